package dev.loupe.serving;

import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.HealthCheckResponseBuilder;
import org.eclipse.microprofile.health.Readiness;

/**
 * {@code /q/health/ready}: down until the default model is loaded (a reverse proxy or orchestrator sends no traffic
 * before), and down with the reason when it cannot be loaded. A server without any usable model is ready (it can
 * still say so to its visitors).
 */
@Readiness
@ApplicationScoped
public class ReadinessCheck implements HealthCheck {
    private final Warmup warmup;

    public ReadinessCheck(Warmup warmup) {
        this.warmup = warmup;
    }

    @Override
    public HealthCheckResponse call() {
        Warmup.Status s = warmup.status();
        HealthCheckResponseBuilder b = HealthCheckResponse.named("default model")
                .status(s.state() == Warmup.State.LOADED || s.state() == Warmup.State.NO_MODEL)
                .withData("state", s.state().name().toLowerCase());
        if (s.model() != null) b.withData("model", s.model());
        if (s.problem() != null) b.withData("problem", s.problem());
        return b.build();
    }
}
