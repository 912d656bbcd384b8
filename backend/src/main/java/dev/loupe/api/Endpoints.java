package dev.loupe.api;

import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HEAD;
import jakarta.ws.rs.PATCH;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.QueryParam;

import java.lang.annotation.Annotation;
import java.lang.reflect.Method;
import java.lang.reflect.Parameter;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The API's routes as the JAX-RS annotations declare them: path templates, their methods, and the query parameters of
 * each GET. The HTTP edge ({@link HttpEdge}) uses it to answer unknown paths (404) and wrong methods (405) as JSON
 * before the UI's catch-all sees them, and to know which parameters a POST body may carry.
 */
public final class Endpoints {
    private static final Map<Class<? extends Annotation>, String> DESIGNATORS = Map.of(GET.class, "GET", POST.class, "POST",
            PUT.class, "PUT", DELETE.class, "DELETE", PATCH.class, "PATCH", HEAD.class, "HEAD");
    private static final Pattern TEMPLATE_PARAM = Pattern.compile("\\{\\s*(\\w[\\w.-]*)\\s*(?::\\s*((?:[^{}]|\\{[^{}]*})*))?}");

    /** One resource method: its full template, HTTP method and (for GET) the query parameters it reads. */
    public record Route(String template, Pattern pattern, String method, List<String> queryParams) {}

    /** What a path matches: every route whose template matches it (several when a literal and a parameter overlap). */
    public record Match(List<Route> routes) {
        /** The methods allowed on the path; HEAD and POST (the parameters as a JSON body) wherever GET is. */
        public Set<String> methods() {
            Set<String> m = new TreeSet<>();
            for (Route r : routes) m.add(r.method());
            if (m.contains("GET")) {
                m.add("HEAD");
                m.add("POST");
            }
            return m;
        }

        /** Whether a resource method of its own takes POST here. */
        public boolean hasPost() {
            for (Route r : routes) if (r.method().equals("POST")) return true;
            return false;
        }

        public boolean allows(String method) { return methods().contains(method); }

        /** The GET route of the path (the first template that has one), if any. */
        public Route get() {
            for (Route r : routes) if (r.method().equals("GET")) return r;
            return null;
        }
    }

    private final List<Route> routes;

    private Endpoints(List<Route> routes) { this.routes = List.copyOf(routes); }

    public static Endpoints of(Collection<Class<?>> resources) {
        List<Route> routes = new ArrayList<>();
        for (Class<?> c : resources) {
            Path base = c.getAnnotation(Path.class);
            if (base == null) continue;
            for (Method m : c.getMethods()) {
                String method = designator(m);
                if (method == null) continue;
                Path sub = m.getAnnotation(Path.class);
                String template = join(base.value(), sub == null ? "" : sub.value());
                routes.add(new Route(template, compile(template), method, method.equals("GET") ? queryParams(m) : List.of()));
            }
        }
        return new Endpoints(routes);
    }

    public List<Route> routes() { return routes; }

    /** The routes matching a (normalised, still percent-encoded) path, or null when none does. */
    public Match match(String path) {
        List<Route> found = new ArrayList<>();
        for (Route r : routes) if (r.pattern().matcher(path).matches()) found.add(r);
        return found.isEmpty() ? null : new Match(found);
    }

    private static String designator(Method m) {
        for (var d : DESIGNATORS.entrySet()) if (m.isAnnotationPresent(d.getKey())) return d.getValue();
        return null;
    }

    private static List<String> queryParams(Method m) {
        Set<String> names = new LinkedHashSet<>();
        for (Parameter p : m.getParameters()) {
            QueryParam q = p.getAnnotation(QueryParam.class);
            if (q != null) names.add(q.value());
            // a @BeanParam's fields carry the query parameters of several endpoints
            if (p.isAnnotationPresent(jakarta.ws.rs.BeanParam.class))
                for (var f : p.getType().getDeclaredFields()) {
                    QueryParam fq = f.getAnnotation(QueryParam.class);
                    if (fq != null) names.add(fq.value());
                }
        }
        return List.copyOf(names);
    }

    private static String join(String base, String sub) {
        String s = ("/" + base + "/" + sub).replaceAll("/+", "/");
        return s.length() > 1 && s.endsWith("/") ? s.substring(0, s.length() - 1) : s;
    }

    /** {@code /a/{x}/b/{y: \d+}} → a regex; a parameter without its own regex is one path segment. A trailing slash is allowed. */
    static Pattern compile(String template) {
        StringBuilder re = new StringBuilder();
        Matcher m = TEMPLATE_PARAM.matcher(template);
        int at = 0;
        while (m.find()) {
            re.append(Pattern.quote(template.substring(at, m.start())));
            re.append('(').append(m.group(2) == null ? "[^/]+" : m.group(2).trim()).append(')');
            at = m.end();
        }
        re.append(Pattern.quote(template.substring(at))).append("/?");
        return Pattern.compile(re.toString());
    }
}
