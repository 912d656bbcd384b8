package dev.loupe.data.baseline;

import java.util.List;

/** A model of the next token given the previous one: the n-gram baselines a trained transformer must beat. */
public interface NextTokenModel {

    /** ln p(next | prev). */
    double logProb(int prev, int next);

    /**
     * Mean negative log-likelihood in nats per token over every token of the documents, each predicted from the
     * token before it (the separator before a document's first token).
     */
    static double nats(NextTokenModel model, List<int[]> documents, int separator) {
        double sum = 0;
        long n = 0;
        for (int[] doc : documents) {
            int prev = separator;
            for (int tok : doc) {
                sum -= model.logProb(prev, tok);
                n++;
                prev = tok;
            }
        }
        return sum / n;
    }
}
