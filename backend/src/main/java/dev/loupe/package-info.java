/** Loupe: a workbench for mechanistic interpretability of GPT-2-family models. */
package dev.loupe;
