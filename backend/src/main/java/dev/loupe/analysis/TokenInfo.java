package dev.loupe.analysis;

/**
 * A token: its id, {@code token} with whitespace made visible (space ·, newline ↵, tab →) and {@code text} as it
 * appears in the prompt.
 */
public record TokenInfo(int id, String token, String text) {}
