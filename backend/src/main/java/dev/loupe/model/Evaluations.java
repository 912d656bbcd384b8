package dev.loupe.model;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A training run's evaluations ({@code eval.csv} in a model folder: a header row, then one row per evaluation), as
 * the model page and the algorithmic view draw them.
 *
 * @param columns the header's names
 * @param rows    one list per evaluation, a value per column; null where a cell is missing, text or not finite
 */
public record Evaluations(List<String> columns, List<List<Double>> rows) {
    public static final Evaluations NONE = new Evaluations(List.of(), List.of());

    /** The file's evaluations; {@link #NONE} when it is absent or unreadable. */
    public static Evaluations read(Path csv) {
        if (!Files.isRegularFile(csv)) return NONE;
        List<String> lines;
        try {
            lines = Files.readAllLines(csv);
        } catch (IOException e) {
            return NONE;
        }
        if (lines.isEmpty()) return NONE;
        List<String> columns = Arrays.asList(lines.get(0).trim().split(","));
        List<List<Double>> rows = new ArrayList<>();
        for (String line : lines.subList(1, lines.size())) {
            if (line.isBlank()) continue;
            String[] cells = line.trim().split(",");
            List<Double> r = new ArrayList<>();
            for (int i = 0; i < columns.size(); i++) {
                Double v = null;
                try {
                    if (i < cells.length) v = Double.parseDouble(cells[i]);
                } catch (NumberFormatException e) {
                    // a text cell: no value on the curve
                }
                r.add(v != null && Double.isFinite(v) ? v : null);
            }
            rows.add(r);
        }
        return new Evaluations(columns, rows);
    }

    /**
     * Every column whose name contains {@code part} as (step, value) points, in the file's order; a row without a
     * step or a value is left out of that curve. Empty without a {@code step} column.
     */
    public Map<String, double[][]> curvesOverSteps(String part) {
        Map<String, double[][]> curves = new LinkedHashMap<>();
        int step = columns.indexOf("step");
        if (step < 0) return curves;
        for (int c = 0; c < columns.size(); c++) {
            if (!columns.get(c).contains(part)) continue;
            int col = c;
            double[][] points = rows.stream().filter(r -> r.get(step) != null && r.get(col) != null)
                    .map(r -> new double[]{r.get(step), r.get(col)}).toArray(double[][]::new);
            if (points.length > 0) curves.put(columns.get(c), points);
        }
        return curves;
    }
}
