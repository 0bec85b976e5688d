/*
 * cmd_show.c — `trmx show NAME`: a module version (MODULE, MODULE@VERSION, @ALIAS, @sha256:...)
 * with its manifest's essentials, store folder, database, aliases, the contexts bound to it and
 * its usage from the log; or a context with its binding, what it serves now and its usage by arm.
 */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void help(void)
{
	printf("usage: trmx show MODULE[@VERSION|@ALIAS|@sha256:HEX] | CONTEXT [options]\n"
	       "Show an installed module version: description, engine, task, signature, self-test, store\n"
	       "folder, database and schema version, aliases, the contexts bound to it, metrics from its\n"
	       "manifest and its usage from the log (runs, verdicts, steps, latency). Or a context: its\n"
	       "binding, canary and share, what it serves now, and its usage by arm.\n"
	       "Options:\n"
	       "      --home DIR   TRMX_HOME (default: $TRMX_HOME, else ~/.local/share/trmx)\n"
	       "      --json       one JSON object\n"
	       "  -h, --help       this help\n");
}

static void usage_line(const trmx_usage_row *u)
{
	printf("%lld run%s", (long long)u->runs, u->runs == 1 ? "" : "s");
	if (u->learners >= 0)
		printf(", %lld learner%s", (long long)u->learners, u->learners == 1 ? "" : "s");
	if (u->judged)
		printf(", %lld of %lld judged correct (%.1f%%)", (long long)u->correct, (long long)u->judged,
		       100.0 * (double)u->correct / (double)u->judged);
	if (!isnan(u->mean_steps))
		printf(", %.2f steps", u->mean_steps);
	if (!isnan(u->mean_latency_ms))
		printf(", %.1f ms", u->mean_latency_ms);
	if (u->errors)
		printf(", %lld error%s", (long long)u->errors, u->errors == 1 ? "" : "s");
	printf("\n");
}

static json_t *usage_json(const trmx_usage_row *u)
{
	json_t *o = json_pack("{s:I,s:I,s:I,s:I}", "runs", (json_int_t)u->runs, "errors", (json_int_t)u->errors, "correct",
			      (json_int_t)u->correct, "judged", (json_int_t)u->judged);
	if (u->learners >= 0)
		json_object_set_new(o, "learners", json_integer(u->learners));
	json_object_set_new(o, "mean_steps", isnan(u->mean_steps) ? json_null() : json_real(u->mean_steps));
	json_object_set_new(o, "mean_latency_ms", isnan(u->mean_latency_ms) ? json_null() : json_real(u->mean_latency_ms));
	return o;
}

static int show_context(trmx_registry *reg, trmx_log_db *log, const trmx_binding_info *b, bool json)
{
	trmx_error err = { 0, "" }, e2 = { 0, "" };
	trmx_resolution res;
	trmx_usage_row *u = NULL;
	size_t nu = 0;
	bool serves = trmx_registry_resolve(reg, b->context, NULL, &res, &e2) == 0;
	if (log && trmx_log_usage(log, TRMX_USAGE_BY_CONTEXT, b->context, &u, &nu, &err) < 0)
		return cli_fail(&err);
	if (json) {
		json_t *o = json_pack("{s:s,s:s,s:o,s:f,s:s,s:s,s:I}", "context", b->context, "target", b->target, "canary",
				      b->canary[0] ? json_string(b->canary) : json_null(), "share", b->share, "updated_at",
				      b->updated_at, "updated_by", b->updated_by, "rollbacks", (json_int_t)b->rollbacks);
		if (serves)
			json_object_set_new(o, "serves", json_pack("{s:s,s:s,s:s}", "module", res.module, "version",
								   res.module_version, "digest", res.digest));
		else
			json_object_set_new(o, "error", json_string(e2.message));
		json_t *ja = json_array();
		for (size_t i = 0; i < nu; i++) {
			json_t *x = usage_json(&u[i]);
			json_object_set_new(x, "arm", json_string(u[i].arm));
			json_object_set_new(x, "module", json_string(u[i].module));
			json_object_set_new(x, "version", json_string(u[i].module_version));
			json_array_append_new(ja, x);
		}
		json_object_set_new(o, "usage", ja);
		json_dumpf(o, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(o);
	} else {
		printf("context %s\n", b->context);
		printf("  bound to    %s", b->target);
		if (b->canary[0])
			printf(", canary %s for %g%% of learners", b->canary, b->share * 100.0);
		printf("\n  since       %s by %s (%lld earlier state%s kept for rollback)\n", b->updated_at, b->updated_by,
		       (long long)b->rollbacks, b->rollbacks == 1 ? "" : "s");
		if (serves)
			printf("  serves      %s %s (sha256:%.12s)%s%s\n", res.module, res.module_version, res.digest,
			       res.alias[0] ? " through alias " : "", res.alias);
		else
			printf("  serves      nothing: %s\n", e2.message);
		for (size_t i = 0; i < nu; i++) {
			printf("  usage       %s arm, %s %s: ", u[i].arm, u[i].module, u[i].module_version);
			usage_line(&u[i]);
		}
		if (!nu)
			printf("  usage       no runs logged\n");
	}
	free(u);
	return CLI_OK;
}

static int show_version(trmx_registry *reg, trmx_log_db *log, const char *name, bool json)
{
	trmx_error err = { 0, "" };
	trmx_version_info *v = malloc(sizeof *v);
	trmx_module_info mi;
	trmx_manifest *m = NULL;
	trmx_alias_info *as = NULL;
	trmx_binding_info *bs = NULL;
	trmx_usage_row *u = NULL;
	size_t na = 0, nb = 0, nu = 0;
	int rc = CLI_FAIL;
	if (!v)
		return cli_failf("out of memory");
	if (trmx_registry_version(reg, name, v, &err) < 0 || trmx_registry_module(reg, v->module, &mi, &err) < 0 ||
	    trmx_registry_manifest(reg, v->digest, &m, &err) < 0 ||
	    trmx_registry_aliases(reg, v->module, &as, &na, &err) < 0 ||
	    trmx_registry_bindings(reg, NULL, &bs, &nb, &err) < 0 ||
	    (log && trmx_log_usage(log, TRMX_USAGE_BY_VERSION, v->module, &u, &nu, &err) < 0)) {
		rc = cli_fail(&err);
		goto done;
	}
	const trmx_usage_row *mine = NULL;
	for (size_t i = 0; i < nu; i++)
		if (!strcmp(u[i].module_version, v->module_version))
			mine = &u[i];
	/* contexts whose target or canary resolves to this version */
	char users[2048] = "";
	for (size_t b = 0; b < nb; b++) {
		for (int which = 0; which < 2; which++) {
			const char *t = which ? bs[b].canary : bs[b].target;
			trmx_version_info *bv = malloc(sizeof *bv);
			trmx_error e2;
			if (*t && bv && trmx_registry_version(reg, t, bv, &e2) == 0 && !strcmp(bv->digest, v->digest)) {
				size_t l = strlen(users);
				snprintf(users + l, sizeof users - l, "%s%s%s", l ? ", " : "", bs[b].context, which ? " (canary)" : "");
			}
			free(bv);
		}
	}
	if (json) {
		json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "module", v->module, "version",
				      v->module_version, "digest", v->digest, "state", v->quarantined ? "quarantined" : "active",
				      "description", v->description, "engine", v->engine, "task", v->codec, "task_params",
				      v->codec_params, "store", v->store_path);
		json_t *al = json_array(), *ctx = json_array();
		for (size_t a = 0; a < na; a++)
			if (!strcmp(as[a].module_version, v->module_version))
				json_array_append_new(al, json_string(as[a].alias));
		json_object_set_new(o, "aliases", al);
		json_object_set_new(o, "contexts", json_string(users));
		json_decref(ctx);
		json_object_set_new(o, "database", json_pack("{s:s,s:i}", "path", mi.db_path, "schema_version", mi.schema_version));
		json_object_set_new(o, "signature", json_string(v->signature));
		json_object_set_new(o, "self_test", json_pack("{s:i,s:i}", "examples", v->examples, "solved", v->examples_solved));
		json_object_set_new(o, "installed_at", json_string(v->installed_at));
		json_object_set_new(o, "installed_by", json_string(v->installed_by));
		json_object_set_new(o, "usage", mine ? usage_json(mine) : json_null());
		json_dumpf(o, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(o);
	} else {
		printf("%s %s%s\n", v->module, v->module_version, v->quarantined ? " (QUARANTINED: nothing dispatches to it)" : "");
		printf("  description %s\n", v->description);
		printf("  digest      sha256:%s\n", v->digest);
		printf("  engine      %s, ABI %s\n", v->engine, v->engine_abi);
		printf("  task        %s%s%s%s\n", v->codec, v->codec_params[0] ? " (" : "", v->codec_params,
		       v->codec_params[0] ? ")" : "");
		printf("  signature   %s%s%s\n", v->signature, v->signer[0] ? ", key " : "", v->signer);
		printf("  self-test   %d example%s run, %d solved\n", v->examples, v->examples == 1 ? "" : "s",
		       v->examples_solved);
		for (size_t i = 0; i < trmx_manifest_metric_count(m); i++) {
			const trmx_manifest_metric *x = trmx_manifest_metric_at(m, i);
			printf("  metric      %s: exact %.3f", x->set, x->exact_accuracy);
			if (x->token_accuracy >= 0)
				printf(", token %.3f", x->token_accuracy);
			if (x->count >= 0)
				printf(", %lld puzzles", (long long)x->count);
			printf("\n");
		}
		printf("  installed   %s by %s\n", v->installed_at, v->installed_by);
		printf("  store       %s\n", v->store_path);
		printf("  database    %s (schema version %d)\n", mi.db_path, mi.schema_version);
		char al[512] = "";
		for (size_t a = 0; a < na; a++) {
			if (strcmp(as[a].module_version, v->module_version))
				continue;
			size_t l = strlen(al);
			snprintf(al + l, sizeof al - l, "%s%s", l ? ", " : "", as[a].alias);
		}
		printf("  aliases     %s\n", al[0] ? al : "-");
		printf("  contexts    %s\n", users[0] ? users : "-");
		printf("  usage       ");
		if (mine)
			usage_line(mine);
		else
			printf("no runs logged\n");
	}
	rc = CLI_OK;
done:
	free(u);
	free(bs);
	free(as);
	trmx_manifest_free(m);
	free(v);
	return rc;
}

enum { OPT_HOME = 256, OPT_JSON };

int cmd_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, OPT_HOME },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home = NULL;
	bool json = false;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_HOME: home = optarg; break;
		case OPT_JSON: json = cli_json_errors = true; break;
		case 'h': help(); return CLI_OK;
		case ':': return cli_usage_error("show", "%s needs a value", argv[optind - 1]);
		default: return cli_usage_error("show", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("show", "expects one MODULE[@VERSION] or CONTEXT");
	const char *name = argv[optind];
	trmx_registry *reg = cli_registry_read(home);
	if (!reg)
		return CLI_FAIL;
	trmx_error err = { 0, "" };
	trmx_log_db *log = NULL;
	trmx_binding_info *b = NULL;
	size_t nb = 0;
	int rc;
	/* usage comes from the log when there is one; show works without */
	if (trmx_log_open(&log, trmx_registry_home(reg), NULL, &err) < 0)
		log = NULL;
	if (trmx_registry_bindings(reg, name, &b, &nb, &err) < 0)
		rc = cli_fail(&err);
	else if (nb == 1)
		rc = show_context(reg, log, &b[0], json);
	else
		rc = show_version(reg, log, name, json);
	free(b);
	trmx_log_free(log);
	trmx_registry_free(reg);
	return rc;
}
