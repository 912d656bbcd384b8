package dev.loupe.api;

import jakarta.ws.rs.BadRequestException;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.ext.ParamConverter;
import jakarta.ws.rs.ext.ParamConverterProvider;
import jakarta.ws.rs.ext.Provider;

import java.lang.annotation.Annotation;
import java.lang.reflect.Type;

/**
 * Whole-number (int, long) parameters that fail to parse answer 400 naming the parameter (by default JAX-RS answers a bare
 * 404 for an unparsable query parameter).
 */
@Provider
public class WholeNumberParams implements ParamConverterProvider {

    @Override
    @SuppressWarnings("unchecked")
    public <T> ParamConverter<T> getConverter(Class<T> rawType, Type genericType, Annotation[] annotations) {
        if (rawType != Integer.class && rawType != Long.class) return null;
        String name = parameterName(annotations);
        boolean inPath = inPath(annotations);
        return new ParamConverter<T>() {
            @Override
            public T fromString(String value) {
                if (value == null || value.isBlank()) {
                    // an optional query parameter may be left empty; a path segment names something and must be a number
                    if (inPath) throw new BadRequestException(name + " must be a whole number, got '" + value + "'");
                    return null;
                }
                try {
                    // separate branches: a conditional expression would unbox and widen an Integer to long
                    if (rawType == Integer.class) return rawType.cast(Integer.valueOf(value.trim()));
                    return rawType.cast(Long.valueOf(value.trim()));
                } catch (NumberFormatException e) {
                    throw new BadRequestException(name + " must be a whole number, got '" + value + "'");
                }
            }

            @Override
            public String toString(T value) { return value == null ? null : value.toString(); }
        };
    }

    private static boolean inPath(Annotation[] annotations) {
        for (Annotation a : annotations) if (a instanceof PathParam) return true;
        return false;
    }

    private static String parameterName(Annotation[] annotations) {
        for (Annotation a : annotations) {
            if (a instanceof QueryParam q) return q.value();
            if (a instanceof PathParam p) return p.value();
        }
        return "parameter";
    }
}
