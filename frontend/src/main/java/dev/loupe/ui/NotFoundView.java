package dev.loupe.ui;

import com.vaadin.flow.component.html.Anchor;
import com.vaadin.flow.component.html.H2;
import com.vaadin.flow.component.html.Paragraph;
import com.vaadin.flow.router.BeforeEnterEvent;
import com.vaadin.flow.router.ErrorParameter;
import com.vaadin.flow.router.HasErrorParameter;
import com.vaadin.flow.router.NotFoundException;
import com.vaadin.flow.router.ParentLayout;
import com.vaadin.flow.component.orderedlayout.VerticalLayout;
import jakarta.servlet.http.HttpServletResponse;

/** Any address with no page: a 404 inside the app's frame, with a way back. */
@ParentLayout(MainLayout.class)
public class NotFoundView extends VerticalLayout implements HasErrorParameter<NotFoundException> {

    @Override
    public int setErrorParameter(BeforeEnterEvent event, ErrorParameter<NotFoundException> parameter) {
        removeAll();
        setId("not-found");
        String path = "/" + event.getLocation().getPath();
        add(new H2("Page not found"), new Paragraph("There is no page at " + path + "."),
                new Anchor("/", "The models"));
        event.getUI().getPage().setTitle("Loupe — page not found");
        return HttpServletResponse.SC_NOT_FOUND;
    }
}
