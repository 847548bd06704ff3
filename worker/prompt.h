/* prompt: the messages sent to the LLM for one job. This is the walking
 * skeleton's version: persona, transcript, reply target; BEHAVIOUR.md's full
 * recipe (stances, holdings, memories, news, humanisers) builds on it. */
#ifndef PIYASA_PROMPT_H
#define PIYASA_PROMPT_H

#include <jansson.h>

#include "bots.h"

/* malloc'd strings, NULL on allocation failure. */
char *prompt_system(const struct bot *b);
char *prompt_user(const char *bot_name, const char *transcript, json_t *payload);

#endif
