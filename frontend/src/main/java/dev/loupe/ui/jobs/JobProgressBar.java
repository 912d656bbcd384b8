package dev.loupe.ui.jobs;

import com.vaadin.flow.component.AttachEvent;
import com.vaadin.flow.component.DetachEvent;
import com.vaadin.flow.component.button.Button;
import com.vaadin.flow.component.button.ButtonVariant;
import com.vaadin.flow.component.html.Span;
import com.vaadin.flow.component.orderedlayout.FlexComponent;
import com.vaadin.flow.component.orderedlayout.HorizontalLayout;
import com.vaadin.flow.component.progressbar.ProgressBar;
import dev.loupe.jobs.JobInfo;
import dev.loupe.service.JobService;
import dev.loupe.ui.UiTimer;
import jakarta.enterprise.inject.spi.CDI;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ScheduledFuture;
import java.util.function.Consumer;

/**
 * A job's progress, live: the bar and the job's last message update by server push while the job runs, a Cancel
 * button stops it. Listeners added with {@link #onFinished} run once when the job is done, failed or cancelled.
 */
public class JobProgressBar extends HorizontalLayout {
    static final Duration REFRESH = Duration.ofMillis(400);

    private final JobService jobs;
    private final String jobId;
    private final ProgressBar bar = new ProgressBar(0, 1);
    private final Span status = new Span();
    private final Button cancel = new Button("Cancel");
    private final List<Consumer<JobInfo>> finished = new ArrayList<>();
    private ScheduledFuture<?> refresh;
    private boolean reported;
    private JobInfo finalInfo;

    public JobProgressBar(String jobId) {
        this(CDI.current().select(JobService.class).get(), jobId);
    }

    public JobProgressBar(JobService jobs, String jobId) {
        this.jobs = jobs;
        this.jobId = jobId;
        addClassName("job-progress");
        getElement().setAttribute("data-job", jobId);
        setWidthFull();
        setDefaultVerticalComponentAlignment(FlexComponent.Alignment.CENTER);
        bar.setWidth("16em");
        status.addClassName("job-status");
        status.getStyle().set("font-size", "var(--lumo-font-size-s)");
        cancel.addClassName("job-cancel");
        cancel.addThemeVariants(ButtonVariant.LUMO_SMALL, ButtonVariant.LUMO_ERROR);
        cancel.addClickListener(e -> {
            jobs.cancel(jobId);
            cancel.setEnabled(false);
            cancel.setText("Cancelling…");
        });
        add(bar, status, cancel);
        expand(status);
        update();
    }

    public String jobId() { return jobId; }

    /** Runs {@code listener} when the job has finished (at once if it already has). */
    public JobProgressBar onFinished(Consumer<JobInfo> listener) {
        // a fast job may have finished while the bar was being attached, before the caller's listener was added
        if (reported) listener.accept(finalInfo);
        else finished.add(listener);
        return this;
    }

    @Override
    protected void onAttach(AttachEvent event) {
        super.onAttach(event);
        update();
        if (!reported) refresh = UiTimer.every(event.getUI(), REFRESH, this::update);
    }

    @Override
    protected void onDetach(DetachEvent event) {
        stopRefreshing();
        super.onDetach(event);
    }

    private void update() {
        JobInfo j = jobs.get(jobId).orElse(null);
        if (j == null) {
            status.setText("unknown job " + jobId);
            cancel.setVisible(false);
            stopRefreshing();
            return;
        }
        bar.setValue(j.progress());
        bar.setIndeterminate(j.state() == JobInfo.State.QUEUED);
        String pct = String.format(Locale.ROOT, "%.0f%%", 100 * j.progress());
        status.setText(switch (j.state()) {
            case QUEUED -> "queued";
            case RUNNING -> pct + (j.message() == null ? "" : " · " + j.message());
            case DONE -> "done";
            case FAILED -> "failed: " + j.error();
            case CANCELLED -> j.progress() > 0 ? "cancelled at " + pct : "cancelled";
        });
        getElement().setAttribute("data-state", j.state().name().toLowerCase(Locale.ROOT));
        if (j.finished()) {
            cancel.setVisible(false);
            bar.setIndeterminate(false);
            if (j.state() == JobInfo.State.FAILED) status.getStyle().set("color", "var(--lumo-error-text-color)");
            stopRefreshing();
            if (!reported && isAttached()) {
                reported = true;
                finalInfo = j;
                finished.forEach(l -> l.accept(j));
                finished.clear();
            }
        }
    }

    private void stopRefreshing() {
        if (refresh != null) refresh.cancel(false);
        refresh = null;
    }
}
