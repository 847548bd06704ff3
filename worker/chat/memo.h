/* memo: the memorize job kind: a bot's recent messages distilled into a few
 * memories by the LLM (BEHAVIOUR.md "Memories"). */
#ifndef PIYASA_MEMO_H
#define PIYASA_MEMO_H

struct bots;
struct task_kind;

/* The job kind: the bot comes from bots, whose cached copy is dropped once
 * its memories change. bots must outlive the tasks. */
void memo_kind(struct bots *bots, struct task_kind *kind);

#endif
