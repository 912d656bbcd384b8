package dev.loupe.tokenizer;

/** Text or ids the tokenizer cannot handle; the message names the offending token. */
public class TokenizerException extends IllegalArgumentException {
    public TokenizerException(String message) { super(message); }
}
