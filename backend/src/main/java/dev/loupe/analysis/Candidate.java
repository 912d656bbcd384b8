package dev.loupe.analysis;

/** A token the model could predict, with its probability and logit. */
public record Candidate(int id, String token, double prob, double logit) {}
