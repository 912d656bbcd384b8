package dev.loupe.ui;

import com.vaadin.quarkus.QuarkusVaadinServlet;
import jakarta.servlet.annotation.WebInitParam;
import jakarta.servlet.annotation.WebServlet;

/**
 * Vaadin's servlet with the first page built on the server in the first response ({@code eagerServerLoad}): the
 * view arrives with the HTML instead of one round trip later, and an address with no page answers HTTP 404.
 */
@WebServlet(urlPatterns = "/*", name = "LoupeServlet", asyncSupported = true,
        initParams = @WebInitParam(name = "eagerServerLoad", value = "true"))
public class LoupeServlet extends QuarkusVaadinServlet {
}
