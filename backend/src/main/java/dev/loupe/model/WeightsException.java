package dev.loupe.model;

import java.io.IOException;

/** Weights that do not fit a config: the message names each missing, unexpected or mis-shaped tensor. */
public class WeightsException extends IOException {
    public WeightsException(String message) { super(message); }
}
