package dev.loupe.model;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EvaluationsTest {
    @TempDir
    Path dir;

    @Test
    void cellsThatAreNotNumbersAreNullAndCurvesSkipThem() throws Exception {
        Path csv = Files.writeString(dir.resolve("eval.csv"), "step,train_loss,test_loss,note\n10,2.5,3.5,start\n20,x,3.0\n\n30,1.5,NaN,end\n");
        Evaluations e = Evaluations.read(csv);
        assertEquals(List.of("step", "train_loss", "test_loss", "note"), e.columns());
        assertEquals(3, e.rows().size());
        assertEquals(Arrays.asList(20.0, null, 3.0, null), e.rows().get(1));
        assertNull(e.rows().get(2).get(2), "NaN is no value");
        var curves = e.curvesOverSteps("loss");
        assertEquals(List.of("train_loss", "test_loss"), List.copyOf(curves.keySet()));
        assertArrayEquals(new double[][]{{10, 2.5}, {30, 1.5}}, curves.get("train_loss"));
        assertArrayEquals(new double[][]{{10, 3.5}, {20, 3.0}}, curves.get("test_loss"));
    }

    @Test
    void noFileOrNoStepColumnIsNoCurve() throws Exception {
        assertSame(Evaluations.NONE, Evaluations.read(dir.resolve("absent.csv")));
        Path csv = Files.writeString(dir.resolve("eval.csv"), "tokens,loss\n100,2.0\n");
        assertTrue(Evaluations.read(csv).curvesOverSteps("loss").isEmpty());
    }
}
