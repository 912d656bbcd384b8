package dev.loupe.model;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class TensorTest {
    static Tensor iota(int... shape) {
        Tensor t = Tensor.zeros(shape);
        for (int i = 0; i < t.size(); i++) t.data()[i] = i;
        return t;
    }

    @Test
    void indexingIsRowMajor() {
        Tensor t = iota(2, 3, 4);
        assertEquals(23f, t.get(1, 2, 3));
        assertEquals(4f * 3 + 1, t.get(1, 0, 1));
        assertThrows(IndexOutOfBoundsException.class, () -> t.get(2, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new Tensor(new float[5], 2, 3));
    }

    @Test
    void selectCropReshapeAndMean() {
        Tensor t = iota(2, 3, 4);
        assertArrayEquals(new float[]{12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23}, t.select(1).data());
        Tensor c = t.crop(2, 2, 4);
        assertArrayEquals(new int[]{2, 2, 4}, c.shape());
        assertEquals(t.get(1, 1, 3), c.get(1, 1, 3));
        assertArrayEquals(new int[]{6, 4}, t.reshape(-1, 4).shape());
        Tensor m = t.meanOver(0, 1);
        assertArrayEquals(new int[]{1, 1, 4}, m.shape());
        assertEquals((0 + 4 + 8 + 12 + 16 + 20) / 6f, m.get(0, 0, 0), 1e-6);
    }

    @Test
    void maxAbsDiffTreatsEqualInfinitiesAsEqual() {
        Tensor a = new Tensor(new float[]{Float.NEGATIVE_INFINITY, 1f}, 2);
        Tensor b = new Tensor(new float[]{Float.NEGATIVE_INFINITY, 1.5f}, 2);
        assertEquals(0.5f, a.maxAbsDiff(b));
        assertEquals(Float.POSITIVE_INFINITY, a.maxAbsDiff(new Tensor(new float[]{0f, 1f}, 2)));
        assertTrue(Float.isNaN(a.maxAbsDiff(new Tensor(new float[]{Float.NaN, 1f}, 2))));
    }
}
