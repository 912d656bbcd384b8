package dev.loupe.cli;

import dev.loupe.model.LoadedModel;
import picocli.CommandLine.Option;

/**
 * How commands read a prompt given as text or as token ids: {@code --no-bos} and the checks against the model
 * (not empty, within the context, inside the vocabulary), each failure a message naming the prompt.
 */
final class PromptIds {
    @Option(names = "--no-bos", description = "do not prepend the BOS token to prompt texts") boolean noBos;

    /**
     * The ids of {@code text} (BOS prepended unless {@code --no-bos}) or else of the comma-separated {@code tokens}
     * given with {@code option}; {@code what} names the prompt in messages.
     */
    int[] of(LoadedModel model, String text, String tokens, String option, String what) {
        int[] ids = text != null ? model.tokenizer().encode(text, !noBos) : parse(tokens, option);
        if (ids.length == 0) throw new CliException("the " + what + " has no tokens");
        if (ids.length > model.config().nCtx())
            throw new CliException("the " + what + " is " + ids.length + " tokens, longer than the model's context of " + model.config().nCtx());
        for (int i = 0; i < ids.length; i++)
            if (ids[i] < 0 || ids[i] >= model.config().dVocab())
                throw new CliException("token id " + ids[i] + " at position " + i + " of the " + what + " is outside the vocabulary [0, " + model.config().dVocab() + ")");
        return ids;
    }

    static int[] parse(String list, String option) {
        if (list.isBlank()) return new int[0];
        String[] parts = list.trim().split("\\s*,\\s*");
        int[] ids = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                ids[i] = Integer.parseInt(parts[i]);
            } catch (NumberFormatException e) {
                throw new CliException("'" + parts[i] + "' in " + option + " is not a token id");
            }
        }
        return ids;
    }
}
