/* migrations: the numbered SQL files of ctl/migrations, embedded at build time
 * (scripts/embed-sql), in order. */
#ifndef PIYASA_MIGRATIONS_H
#define PIYASA_MIGRATIONS_H

struct ctl_migration {
	int version;
	const char *name;
	const char *sql;
};

extern const struct ctl_migration ctl_migrations[];
extern const int ctl_nmigrations;

#endif
