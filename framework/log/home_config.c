/*
 * home_config.c — a home's settings (trmx/log.h): HOME/config.json, one JSON object of the keys
 * trmx knows (log.url, host.id), mode 0600 since a log URL may hold a password, written
 * atomically. And where the log is: a URL given, else $TRMX_LOG_URL, else log.url, else
 * HOME/log.db.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log/log_int.h"

#define CONFIG_MAX (64 * 1024)

static const char *const known_keys[] = { "log.url", "host.id", NULL };

const char *const *trmx_home_config_keys(void)
{
	return known_keys;
}

static bool known(const char *key)
{
	for (int i = 0; known_keys[i]; i++)
		if (!strcmp(key, known_keys[i]))
			return true;
	return false;
}

static int check_value(const char *key, const char *value, trmx_error *err)
{
	size_t n = strlen(value);
	if (n > 4096)
		return trmx_error_set(err, TRMX_ELIMIT, "%s: a value of %zu bytes is too long (4096 at most)", key, n);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f)
			return trmx_error_set(err, TRMX_EINVAL, "%s: the value holds a control character", key);
	if (!strcmp(key, "log.url") && *value && strcmp(value, "sqlite") && !trmx_log_url_is_pg(value))
		return trmx_error_set(err, TRMX_EINVAL,
				      "log.url '%s' is not a postgresql:// URL (or 'sqlite' for HOME/log.db)", value);
	if (!strcmp(key, "host.id")) {
		if (!*value || n > 64)
			return trmx_error_set(err, TRMX_EINVAL, "host.id must have 1 to 64 characters");
		for (size_t i = 0; i < n; i++)
			if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", value[i]))
				return trmx_error_set(err, TRMX_EINVAL,
						      "host.id '%s': only letters, digits, '.', '_' and '-'", value);
	}
	return 0;
}

/* The object of HOME/config.json (an empty one when the file is absent). */
static int load(const char *home, json_t **out, trmx_error *err)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/config.json", home);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno != ENOENT)
			return trmx_error_set(err, TRMX_EIO, "cannot read %s: %s", path, strerror(errno));
		*out = json_object();
		return *out ? 0 : trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > CONFIG_MAX) {
		close(fd);
		return trmx_error_set(err, TRMX_EFORMAT, "%s is not a file of at most %d bytes", path, CONFIG_MAX);
	}
	if (st.st_mode & 077) {
		close(fd);
		return trmx_error_set(err, TRMX_EINVAL,
				      "%s is open to other users (it may hold a database password): run chmod 600 %s", path,
				      path);
	}
	json_error_t je;
	json_t *o = json_loadfd(fd, JSON_REJECT_DUPLICATES, &je);
	close(fd);
	if (!o || !json_is_object(o)) {
		json_decref(o);
		return trmx_error_set(err, TRMX_EFORMAT, "%s:%d: %s", path, je.line,
				      o ? "not a JSON object" : je.text);
	}
	*out = o;
	return 0;
}

int trmx_home_config_get(const char *home, const char *key, char **value, trmx_error *err)
{
	if (!home || !key || !value)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_home_config_get: missing argument");
	*value = NULL;
	if (!known(key))
		return trmx_error_set(err, TRMX_EINVAL, "'%s' is not a setting: log.url, host.id", key);
	json_t *o = NULL;
	int rc = load(home, &o, err);
	if (rc < 0)
		return rc;
	const char *s = json_string_value(json_object_get(o, key));
	if (s && !(*value = strdup(s)))
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	json_decref(o);
	return rc;
}

int trmx_home_config_set(const char *home, const char *key, const char *value, trmx_error *err)
{
	if (!home || !key)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_home_config_set: missing argument");
	if (!known(key))
		return trmx_error_set(err, TRMX_EINVAL, "'%s' is not a setting: log.url, host.id", key);
	int rc;
	if (value && (rc = check_value(key, value, err)) < 0)
		return rc;
	json_t *o = NULL;
	if ((rc = trmx_mkdirs(home, err)) < 0 || (rc = load(home, &o, err)) < 0)
		return rc;
	if (value ? json_object_set_new(o, key, json_string(value)) : (json_object_del(o, key), 0)) {
		json_decref(o);
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	}
	char *text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(o);
	if (!text)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	size_t n = strlen(text);
	char path[4200];
	snprintf(path, sizeof path, "%s/config.json", home);
	char *line = realloc(text, n + 2);
	if (!line) {
		free(text);
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	}
	line[n] = '\n';
	rc = trmx_write_file_atomic_mode(path, line, n + 1, 0600, err);
	free(line);
	return rc;
}

int trmx_log_url(const char *home, const char *given, char **url, trmx_error *err)
{
	*url = NULL;
	const char *env = getenv("TRMX_LOG_URL");
	char *conf = NULL;
	const char *u = given && *given ? given : env && *env ? env : NULL;
	const char *from = given && *given ? "--log" : "TRMX_LOG_URL";
	if (!u) {
		int rc = trmx_home_config_get(home, "log.url", &conf, err);
		if (rc < 0)
			return rc;
		u = conf;
		from = "log.url";
	}
	int rc = 0;
	if (!u || !*u || !strcmp(u, "sqlite"))
		rc = 0;
	else if (!trmx_log_url_is_pg(u))
		rc = trmx_error_set(err, TRMX_EINVAL, "%s '%s' is not a postgresql:// URL (or 'sqlite' for HOME/log.db)",
				    from, u);
	else if (!(*url = strdup(u)))
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	free(conf);
	return rc;
}

void trmx_log_host_id(const char *home, char *buf, size_t cap)
{
	char *id = NULL;
	trmx_error e;
	if (trmx_home_config_get(home, "host.id", &id, &e) == 0 && id) {
		snprintf(buf, cap, "%s", id);
		free(id);
		return;
	}
	if (gethostname(buf, cap) != 0 || !*buf)
		snprintf(buf, cap, "localhost");
	buf[cap - 1] = 0;
}
