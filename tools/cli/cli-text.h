/* Text for people: what the service says is printed so that it cannot move
 * the cursor or break a line (control characters become spaces), and
 * measured in terminal columns, not bytes. Needs setlocale(LC_CTYPE, "")
 * for wide characters; in the C locale every non-ASCII character counts as
 * one column. Strings are UTF-8 (D-Bus guarantees it); a stray invalid
 * byte counts as one column and is printed as is. */
#pragma once

#include <stdio.h>

/* The columns s takes once printed with cli_text_put(). */
int cli_text_width(const char *s);

/* Writes s with control characters replaced by spaces. */
void cli_text_put(FILE *f, const char *s);

/* Writes s like cli_text_put() and pads it with spaces to width columns. */
void cli_text_put_padded(FILE *f, const char *s, int width);

/* Writes the end of s that fits in cols columns; when s is longer, its
 * start is cut and replaced by an ellipsis (live captions: the newest
 * words are at the end). Writes nothing when cols < 1. */
void cli_text_put_tail(FILE *f, const char *s, int cols);
