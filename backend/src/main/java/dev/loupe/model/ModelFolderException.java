package dev.loupe.model;

/** A model folder that cannot be used; the message names the problem for the user. */
public class ModelFolderException extends Exception {
    public ModelFolderException(String message) { super(message); }
    public ModelFolderException(String message, Throwable cause) { super(message, cause); }
}
