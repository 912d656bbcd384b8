package dev.loupe.patching;

import java.util.Locale;

/**
 * Which run is patched and with what (DESIGN §8). Denoising runs the corrupted prompt and puts in one clean
 * activation; noising runs the clean prompt and puts in one corrupted activation. The ablations run the clean
 * prompt and put in zero, the mean over every pair's clean prompt and position (over pairs only for attention
 * patterns), or a resampled activation: pair i's from the clean prompt of pair i+1 (mod n), the corrupted prompt
 * when there is a single pair.
 */
public enum PatchMode {
    DENOISE, NOISE, ZERO, MEAN, RESAMPLE;

    public String label() { return name().toLowerCase(Locale.ROOT); }

    public static PatchMode parse(String s) {
        String v = s == null ? "" : s.trim().toLowerCase(Locale.ROOT);
        return switch (v) {
            case "", "denoise", "denoising" -> DENOISE;
            case "noise", "noising" -> NOISE;
            case "zero" -> ZERO;
            case "mean" -> MEAN;
            case "resample" -> RESAMPLE;
            default -> throw new IllegalArgumentException("unknown direction or ablation '" + s + "': use denoise, noise, zero, mean or resample");
        };
    }
}
