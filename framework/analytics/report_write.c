/*
 * report_write.c — trmx_report_write (trmx/report.h): a built report as text
 * tables, CSV tables, one JSON object (jansson), or one self-contained HTML
 * page whose charts (accuracy per version over time, steps histogram,
 * calibration curve with the runs of each bin, and canary against champion
 * with its verdict when there is a canary) are inline SVG, as wide as the page
 * (width 100%, a viewBox), one series per module version. The page is
 * well-formed XML (XHTML serialisation) with no script and no external
 * reference.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics_int.h"

int trmx_report_format_parse(const char *s, trmx_report_format *out, trmx_error *err)
{
	static const char *const names[] = { "text", "csv", "json", "html" };
	for (int i = 0; s && i < 4; i++)
		if (!strcmp(s, names[i])) {
			*out = (trmx_report_format)i;
			return 0;
		}
	return trmx_error_set(err, TRMX_EINVAL, "'%s' is not a report format: text, csv, json or html", s ? s : "");
}

static const char *const tables[] = { "groups", "versions", "steps", "calibration", "accuracy", "canary" };

bool trmx_report_table_valid(const char *table)
{
	for (size_t i = 0; table && i < sizeof tables / sizeof *tables; i++)
		if (!strcmp(table, tables[i]))
			return true;
	return false;
}

/* ---- Text
 * -----------------------------------------------------------------------------------
 */

/* A number or "-" when NaN, into a static-free buffer. */
static const char *num(char *buf, size_t n, const char *fmt, double v)
{
	if (isnan(v))
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, fmt, v);
	return buf;
}

static void text_interval(FILE *f, double acc, double lo, double hi)
{
	if (isnan(acc))
		fprintf(f, "%-22s", "-");
	else
		fprintf(f, "%5.1f%% [%4.1f, %5.1f]   ", 100 * acc, 100 * lo, 100 * hi);
}

static void write_text(const trmx_report *r, FILE *f)
{
	const trmx_report_info *in = trmx_report_info_get(r);
	char a[32], b[32], c[32];
	fprintf(f, "trmx report of %s, made %s\n", in->home, in->generated_at);
	fprintf(f, "window: %s to %s", in->since ? in->since : "the first run", in->until ? in->until : "the last run");
	if (in->context)
		fprintf(f, ", context %s", *in->context ? in->context : "(none)");
	if (in->module)
		fprintf(f, ", module %s", in->module);
	if (in->learner)
		fprintf(f, ", learner %s", in->learner);
	if (in->kinds)
		fprintf(f, ", kinds %s", in->kinds);
	fprintf(f, "\nruns: %lld, learners: %lld, judged: %lld, correct: %lld", (long long)in->runs, (long long)in->learners,
		(long long)in->judged, (long long)in->correct);
	if (in->first_run)
		fprintf(f, " (%s to %s)", in->first_run, in->last_run);
	fprintf(f, "\n\n");
	if (!in->runs) {
		fprintf(f, "no runs in the window\n");
		return;
	}
	fprintf(f, "Per context and module version (accuracy: exact, best verdict "
		   "available; 95%% Wilson interval)\n");
	fprintf(f, "%-24s %-16s %-10s %7s %6s %8s %7s %-22s %6s %9s %9s %11s\n", "context", "module", "version", "runs",
		"errors", "learners", "judged", "accuracy", "steps", "p50 ms", "p95 ms", "corrections");
	for (size_t i = 0; i < trmx_report_group_count(r); i++) {
		const trmx_report_group *g = trmx_report_group_at(r, i);
		fprintf(f, "%-24s %-16s %-10s %7lld %6lld %8lld %7lld ", *g->context ? g->context : "(none)", g->module,
			g->module_version, (long long)g->runs, (long long)g->errors, (long long)g->learners,
			(long long)g->judged);
		text_interval(f, g->accuracy, g->accuracy_low, g->accuracy_high);
		fprintf(f, "%6s %9s %9s %11lld\n", num(a, sizeof a, "%.2f", g->mean_steps),
			num(b, sizeof b, "%.2f", g->latency_p50), num(c, sizeof c, "%.2f", g->latency_p95),
			(long long)g->corrections);
	}
	if (trmx_report_canary_count(r)) {
		fprintf(f, "\nCanary against champion (95%% Wilson intervals of exact "
			   "accuracy)\n");
		for (size_t i = 0; i < trmx_report_canary_count(r); i++) {
			const trmx_report_canary *k = trmx_report_canary_at(r, i);
			fprintf(f, "%s\n", *k->context ? k->context : "(none)");
			const trmx_report_arm *arms[2] = { &k->champion, &k->canary };
			for (int j = 0; j < 2; j++) {
				const trmx_report_arm *m = arms[j];
				fprintf(f, "  %-9s %s %s: %lld runs, %lld of %lld judged correct, ",
					j ? "canary" : "champion", m->module ? m->module : "-",
					m->module_version ? m->module_version : "-", (long long)m->runs,
					(long long)m->correct, (long long)m->judged);
				text_interval(f, m->accuracy, m->accuracy_low, m->accuracy_high);
				fputc('\n', f);
			}
			fprintf(f, "  verdict: the canary is %s", trmx_canary_verdict_name(k->verdict));
			if (k->verdict == TRMX_CANARY_UNKNOWN) {
				if (k->runs_needed > 0)
					fprintf(f,
						" (about %lld more judged runs needed at the accuracies seen "
						"so far)",
						(long long)k->runs_needed);
				else
					fprintf(f, " (no number of runs would separate the accuracies seen so far)");
			} else {
				fprintf(f, " (%+.1f points)", 100 * k->difference);
			}
			fputc('\n', f);
		}
	}
	fprintf(f, "\nCalibration of the halt confidence (runs / accuracy per "
		   "confidence bin)\n");
	for (size_t i = 0; i < trmx_report_version_count(r); i++) {
		const trmx_report_version *v = trmx_report_version_at(r, i);
		fprintf(f, "%s %s (expected calibration error %s)\n", v->module, v->module_version,
			num(a, sizeof a, "%.3f", v->ece));
		for (int k = 0; k < v->bins; k++) {
			const trmx_report_bin *bin = &v->calibration[k];
			if (!bin->runs)
				continue;
			fprintf(f,
				"  [%.2f, %.2f%c %8lld runs, mean confidence %s, accuracy %s "
				"(%lld judged)\n",
				bin->from, bin->to, k == v->bins - 1 ? ']' : ')', (long long)bin->runs,
				num(a, sizeof a, "%.3f", bin->mean_confidence), num(b, sizeof b, "%.3f", bin->accuracy),
				(long long)bin->judged);
		}
	}
	fprintf(f, "\nSteps used (runs per ACT step count)\n");
	for (size_t i = 0; i < trmx_report_version_count(r); i++) {
		const trmx_report_version *v = trmx_report_version_at(r, i);
		fprintf(f, "%s %s: mean %s;", v->module, v->module_version, num(a, sizeof a, "%.2f", v->mean_steps));
		for (int s = 0; v->steps_hist && s <= v->steps_max; s++)
			if (v->steps_hist[s])
				fprintf(f, " %d:%lld", s, (long long)v->steps_hist[s]);
		fputc('\n', f);
	}
}

/* ---- CSV
 * ------------------------------------------------------------------------------------
 */

static void csv_num(FILE *f, const char *fmt, double v)
{
	fputc(',', f);
	if (!isnan(v))
		fprintf(f, fmt, v);
}

static void write_csv(const trmx_report *r, const char *table, FILE *f)
{
	if (!strcmp(table, "groups")) {
		fprintf(f, "context,module,version,digest,runs,errors,learners,judged,"
			   "correct,accuracy,accuracy_low,"
			   "accuracy_high,mean_steps,latency_p50_ms,latency_p95_ms,"
			   "corrections,first_run,last_run\n");
		for (size_t i = 0; i < trmx_report_group_count(r); i++) {
			const trmx_report_group *g = trmx_report_group_at(r, i);
			trmx__an_csv_field(f, g->context);
			fputc(',', f);
			trmx__an_csv_field(f, g->module);
			fputc(',', f);
			trmx__an_csv_field(f, g->module_version);
			fprintf(f, ",%s,%lld,%lld,%lld,%lld,%lld", g->digest, (long long)g->runs, (long long)g->errors,
				(long long)g->learners, (long long)g->judged, (long long)g->correct);
			csv_num(f, "%.6f", g->accuracy);
			csv_num(f, "%.6f", g->judged ? g->accuracy_low : NAN);
			csv_num(f, "%.6f", g->judged ? g->accuracy_high : NAN);
			csv_num(f, "%.4f", g->mean_steps);
			csv_num(f, "%.3f", g->latency_p50);
			csv_num(f, "%.3f", g->latency_p95);
			fprintf(f, ",%lld,%s,%s\n", (long long)g->corrections, g->first_run, g->last_run);
		}
	} else if (!strcmp(table, "versions")) {
		fprintf(f, "module,version,runs,judged,correct,accuracy,accuracy_low,"
			   "accuracy_high,mean_steps,ece\n");
		for (size_t i = 0; i < trmx_report_version_count(r); i++) {
			const trmx_report_version *v = trmx_report_version_at(r, i);
			trmx__an_csv_field(f, v->module);
			fputc(',', f);
			trmx__an_csv_field(f, v->module_version);
			fprintf(f, ",%lld,%lld,%lld", (long long)v->runs, (long long)v->judged, (long long)v->correct);
			csv_num(f, "%.6f", v->accuracy);
			csv_num(f, "%.6f", v->judged ? v->accuracy_low : NAN);
			csv_num(f, "%.6f", v->judged ? v->accuracy_high : NAN);
			csv_num(f, "%.4f", v->mean_steps);
			csv_num(f, "%.6f", v->ece);
			fputc('\n', f);
		}
	} else if (!strcmp(table, "steps")) {
		fprintf(f, "module,version,steps,runs\n");
		for (size_t i = 0; i < trmx_report_version_count(r); i++) {
			const trmx_report_version *v = trmx_report_version_at(r, i);
			for (int s = 0; v->steps_hist && s <= v->steps_max; s++) {
				trmx__an_csv_field(f, v->module);
				fputc(',', f);
				trmx__an_csv_field(f, v->module_version);
				fprintf(f, ",%d,%lld\n", s, (long long)v->steps_hist[s]);
			}
		}
	} else if (!strcmp(table, "calibration")) {
		fprintf(f, "module,version,confidence_from,confidence_to,runs,mean_"
			   "confidence,judged,correct,accuracy\n");
		for (size_t i = 0; i < trmx_report_version_count(r); i++) {
			const trmx_report_version *v = trmx_report_version_at(r, i);
			for (int k = 0; k < v->bins; k++) {
				const trmx_report_bin *b = &v->calibration[k];
				trmx__an_csv_field(f, v->module);
				fputc(',', f);
				trmx__an_csv_field(f, v->module_version);
				fprintf(f, ",%.4f,%.4f,%lld", b->from, b->to, (long long)b->runs);
				csv_num(f, "%.6f", b->mean_confidence);
				fprintf(f, ",%lld,%lld", (long long)b->judged, (long long)b->correct);
				csv_num(f, "%.6f", b->accuracy);
				fputc('\n', f);
			}
		}
	} else if (!strcmp(table, "accuracy")) {
		fprintf(f, "module,version,bucket,runs,judged,correct,accuracy\n");
		for (size_t i = 0; i < trmx_report_version_count(r); i++) {
			const trmx_report_version *v = trmx_report_version_at(r, i);
			for (size_t k = 0; k < v->points; k++) {
				const trmx_report_point *p = &v->series[k];
				trmx__an_csv_field(f, v->module);
				fputc(',', f);
				trmx__an_csv_field(f, v->module_version);
				fprintf(f, ",%s,%lld,%lld,%lld", p->bucket, (long long)p->runs, (long long)p->judged,
					(long long)p->correct);
				csv_num(f, "%.6f", p->accuracy);
				fputc('\n', f);
			}
		}
	} else { /* canary */
		fprintf(f, "context,arm,module,version,runs,judged,correct,accuracy,"
			   "accuracy_low,accuracy_high,verdict,"
			   "runs_needed\n");
		for (size_t i = 0; i < trmx_report_canary_count(r); i++) {
			const trmx_report_canary *k = trmx_report_canary_at(r, i);
			const trmx_report_arm *arms[2] = { &k->champion, &k->canary };
			for (int j = 0; j < 2; j++) {
				const trmx_report_arm *m = arms[j];
				trmx__an_csv_field(f, k->context);
				fprintf(f, ",%s,", j ? "canary" : "champion");
				trmx__an_csv_field(f, m->module ? m->module : "");
				fputc(',', f);
				trmx__an_csv_field(f, m->module_version ? m->module_version : "");
				fprintf(f, ",%lld,%lld,%lld", (long long)m->runs, (long long)m->judged,
					(long long)m->correct);
				csv_num(f, "%.6f", m->accuracy);
				csv_num(f, "%.6f", m->judged ? m->accuracy_low : NAN);
				csv_num(f, "%.6f", m->judged ? m->accuracy_high : NAN);
				fprintf(f, ",%s,%lld\n", trmx_canary_verdict_name(k->verdict), (long long)k->runs_needed);
			}
		}
	}
}

/* ---- JSON
 * -----------------------------------------------------------------------------------
 */

static json_t *jnum(double v)
{
	return isnan(v) ? json_null() : json_real(v);
}

static json_t *jstr(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *jhist(const int64_t *h, int max)
{
	json_t *a = json_array();
	for (int s = 0; h && s <= max; s++)
		json_array_append_new(a, json_integer(h[s]));
	return a;
}

static json_t *jarm(const trmx_report_arm *m)
{
	json_t *o = json_object();
	json_object_set_new(o, "module", jstr(m->module));
	json_object_set_new(o, "version", jstr(m->module_version));
	json_object_set_new(o, "runs", json_integer(m->runs));
	json_object_set_new(o, "judged", json_integer(m->judged));
	json_object_set_new(o, "correct", json_integer(m->correct));
	json_object_set_new(o, "accuracy", jnum(m->accuracy));
	json_object_set_new(o, "accuracy_low", jnum(m->judged ? m->accuracy_low : NAN));
	json_object_set_new(o, "accuracy_high", jnum(m->judged ? m->accuracy_high : NAN));
	return o;
}

static json_t *report_json(const trmx_report *r)
{
	const trmx_report_info *in = trmx_report_info_get(r);
	json_t *o = json_object(), *a;
	json_object_set_new(o, "generated_at", jstr(in->generated_at));
	json_object_set_new(o, "home", jstr(in->home));
	json_object_set_new(o, "context", jstr(in->context));
	json_object_set_new(o, "module", jstr(in->module));
	json_object_set_new(o, "learner", jstr(in->learner));
	json_object_set_new(o, "kinds", jstr(in->kinds));
	json_object_set_new(o, "since", jstr(in->since));
	json_object_set_new(o, "until", jstr(in->until));
	json_object_set_new(o, "first_run", jstr(in->first_run));
	json_object_set_new(o, "last_run", jstr(in->last_run));
	json_object_set_new(o, "bucket", jstr(in->bucket));
	json_object_set_new(o, "runs", json_integer(in->runs));
	json_object_set_new(o, "learners", json_integer(in->learners));
	json_object_set_new(o, "judged", json_integer(in->judged));
	json_object_set_new(o, "correct", json_integer(in->correct));
	json_object_set_new(o, "groups", a = json_array());
	for (size_t i = 0; i < trmx_report_group_count(r); i++) {
		const trmx_report_group *g = trmx_report_group_at(r, i);
		json_t *x = json_object(), *src = json_object();
		json_object_set_new(x, "context", json_string(g->context));
		json_object_set_new(x, "module", json_string(g->module));
		json_object_set_new(x, "version", json_string(g->module_version));
		json_object_set_new(x, "digest", json_string(g->digest));
		json_object_set_new(x, "runs", json_integer(g->runs));
		json_object_set_new(x, "errors", json_integer(g->errors));
		json_object_set_new(x, "learners", json_integer(g->learners));
		json_object_set_new(x, "judged", json_integer(g->judged));
		json_object_set_new(x, "correct", json_integer(g->correct));
		for (int s = 0; s < TRMX_VERDICT_SOURCES; s++)
			json_object_set_new(src, trmx_verdict_source_name((trmx_verdict_source)s),
					    json_integer(g->by_source[s]));
		json_object_set_new(x, "verdict_sources", src);
		json_object_set_new(x, "accuracy", jnum(g->accuracy));
		json_object_set_new(x, "accuracy_low", jnum(g->judged ? g->accuracy_low : NAN));
		json_object_set_new(x, "accuracy_high", jnum(g->judged ? g->accuracy_high : NAN));
		json_object_set_new(x, "mean_steps", jnum(g->mean_steps));
		json_object_set_new(x, "steps_histogram", jhist(g->steps_hist, g->steps_max));
		json_object_set_new(x, "latency_p50_ms", jnum(g->latency_p50));
		json_object_set_new(x, "latency_p95_ms", jnum(g->latency_p95));
		json_object_set_new(x, "corrections", json_integer(g->corrections));
		json_object_set_new(x, "first_run", json_string(g->first_run));
		json_object_set_new(x, "last_run", json_string(g->last_run));
		json_array_append_new(a, x);
	}
	json_object_set_new(o, "versions", a = json_array());
	for (size_t i = 0; i < trmx_report_version_count(r); i++) {
		const trmx_report_version *v = trmx_report_version_at(r, i);
		json_t *x = json_object(), *cal = json_array(), *ser = json_array();
		json_object_set_new(x, "module", json_string(v->module));
		json_object_set_new(x, "version", json_string(v->module_version));
		json_object_set_new(x, "runs", json_integer(v->runs));
		json_object_set_new(x, "judged", json_integer(v->judged));
		json_object_set_new(x, "correct", json_integer(v->correct));
		json_object_set_new(x, "accuracy", jnum(v->accuracy));
		json_object_set_new(x, "accuracy_low", jnum(v->judged ? v->accuracy_low : NAN));
		json_object_set_new(x, "accuracy_high", jnum(v->judged ? v->accuracy_high : NAN));
		json_object_set_new(x, "mean_steps", jnum(v->mean_steps));
		json_object_set_new(x, "steps_histogram", jhist(v->steps_hist, v->steps_max));
		json_object_set_new(x, "ece", jnum(v->ece));
		for (int k = 0; k < v->bins; k++) {
			const trmx_report_bin *b = &v->calibration[k];
			json_array_append_new(cal,
					      json_pack("{s:f,s:f,s:I,s:o,s:I,s:I,s:o}", "from", b->from, "to", b->to,
							"runs", (json_int_t)b->runs, "mean_confidence",
							jnum(b->mean_confidence), "judged", (json_int_t)b->judged, "correct",
							(json_int_t)b->correct, "accuracy", jnum(b->accuracy)));
		}
		for (size_t k = 0; k < v->points; k++) {
			const trmx_report_point *p = &v->series[k];
			json_array_append_new(ser, json_pack("{s:s,s:I,s:I,s:I,s:o}", "bucket", p->bucket, "runs",
							     (json_int_t)p->runs, "judged", (json_int_t)p->judged, "correct",
							     (json_int_t)p->correct, "accuracy", jnum(p->accuracy)));
		}
		json_object_set_new(x, "calibration", cal);
		json_object_set_new(x, "accuracy_over_time", ser);
		json_array_append_new(a, x);
	}
	json_object_set_new(o, "canaries", a = json_array());
	for (size_t i = 0; i < trmx_report_canary_count(r); i++) {
		const trmx_report_canary *k = trmx_report_canary_at(r, i);
		json_t *x = json_object();
		json_object_set_new(x, "context", json_string(k->context));
		json_object_set_new(x, "champion", jarm(&k->champion));
		json_object_set_new(x, "canary", jarm(&k->canary));
		json_object_set_new(x, "difference", jnum(k->difference));
		json_object_set_new(x, "verdict", json_string(trmx_canary_verdict_name(k->verdict)));
		json_object_set_new(x, "runs_needed", k->runs_needed >= 0 ? json_integer(k->runs_needed) : json_null());
		json_array_append_new(a, x);
	}
	return o;
}

/* ---- HTML
 * -----------------------------------------------------------------------------------
 */

static const char *const palette[] = {
	"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"
};
#define PALETTE (sizeof palette / sizeof *palette)

/* Chart geometry: a plot area inside margins. */
#define W  640
#define H  300
#define ML 52
#define MR 170
#define MT 16
#define MB 44
#define PW (W - ML - MR)
#define PH (H - MT - MB)

static void svg_open(FILE *f, const char *id, const char *title, const char *xlabel, const char *ylabel)
{
	fprintf(f, "<figure id=\"%s\">\n<figcaption>", id);
	trmx__an_xml_text(f, title);
	fprintf(f,
		"</figcaption>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
		"width=\"100%%\" viewBox=\"0 0 %d %d\" preserveAspectRatio=\"xMidYMid meet\" "
		"role=\"img\" aria-label=\"",
		W, H);
	trmx__an_xml_text(f, title);
	fprintf(f, "\">\n<title>");
	trmx__an_xml_text(f, title);
	fprintf(f,
		"</title>\n<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
		"fill=\"#fafafa\" stroke=\"#999\"/>\n",
		ML, MT, PW, PH);
	fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"12\">", ML + PW / 2, H - 6);
	trmx__an_xml_text(f, xlabel);
	fprintf(f,
		"</text>\n<text x=\"14\" y=\"%d\" text-anchor=\"middle\" "
		"font-size=\"12\" transform=\"rotate(-90 14 %d)\">",
		MT + PH / 2, MT + PH / 2);
	trmx__an_xml_text(f, ylabel);
	fprintf(f, "</text>\n");
}

/* y axis ticks for [0, ymax] with labels formatted by fmt (of value * scale).
 */
static void svg_yaxis(FILE *f, double ymax, double scale, const char *fmt)
{
	for (int i = 0; i <= 4; i++) {
		double v = ymax * i / 4.0;
		double y = MT + PH - PH * i / 4.0;
		fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>", ML, y, ML + PW, y);
		fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" font-size=\"10\">", ML - 4, y + 3);
		fprintf(f, fmt, v * scale);
		fprintf(f, "</text>\n");
	}
}

static void svg_legend(FILE *f, size_t i, const char *module, const char *version)
{
	int y = MT + 14 + 16 * (int)i;
	fprintf(f,
		"<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" "
		"fill=\"%s\"/><text x=\"%d\" y=\"%d\" font-size=\"11\">",
		ML + PW + 10, y - 9, palette[i % PALETTE], ML + PW + 24, y);
	trmx__an_xml_text(f, module);
	fputc(' ', f);
	trmx__an_xml_text(f, version);
	fprintf(f, "</text>\n");
}

/* One version's marks in a group of their own, named by module and version: the series of two
 * modules (or of two versions of one) are never drawn as one. */
static void series_open(FILE *f, const trmx_report_version *v)
{
	fputs("<g class=\"series\" data-module=\"", f);
	trmx__an_xml_text(f, v->module);
	fputs("\" data-version=\"", f);
	trmx__an_xml_text(f, v->module_version);
	fputs("\">\n", f);
}

/* "MODULE VERSION" in a title. */
static void series_name(FILE *f, const trmx_report_version *v)
{
	trmx__an_xml_text(f, v->module);
	fputc(' ', f);
	trmx__an_xml_text(f, v->module_version);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Where point p of a version's series sits on the accuracy chart: *b moves forward to p's bucket
 * (a series is in bucket order); false for a point without an accuracy. */
static bool point_xy(const trmx_report_point *p, const char **buckets, size_t nb, size_t *b, double *x, double *y)
{
	while (*b < nb && strcmp(buckets[*b], p->bucket))
		(*b)++;
	if (isnan(p->accuracy))
		return false;
	*x = ML + (nb > 1 ? PW * (double)*b / (double)(nb - 1) : PW / 2.0);
	*y = MT + PH - PH * p->accuracy;
	return true;
}

/* Accuracy per version over time: one line per version over the union of
 * buckets. */
static void chart_accuracy(const trmx_report *r, FILE *f)
{
	svg_open(f, "chart-accuracy", "Accuracy per version over time", "time (by report bucket)", "exact accuracy");
	svg_yaxis(f, 1.0, 100, "%.0f%%");
	size_t nb = 0, cap = 0;
	const char **buckets = NULL;
	for (size_t i = 0; i < trmx_report_version_count(r); i++) {
		const trmx_report_version *v = trmx_report_version_at(r, i);
		for (size_t k = 0; k < v->points; k++) {
			if (nb == cap) {
				size_t nc = cap ? cap * 2 : 64;
				const char **q = realloc(buckets, nc * sizeof *q);
				if (!q)
					goto done;
				buckets = q;
				cap = nc;
			}
			buckets[nb++] = v->series[k].bucket;
		}
	}
	if (nb)
		qsort(buckets, nb, sizeof *buckets, cmp_str);
	size_t u = 0;
	for (size_t i = 0; i < nb; i++)
		if (!u || strcmp(buckets[u - 1], buckets[i]))
			buckets[u++] = buckets[i];
	nb = u;
	for (size_t i = 0; i < nb; i += (nb + 5) / 6) { /* up to six labels */
		double x = ML + (nb > 1 ? PW * (double)i / (double)(nb - 1) : PW / 2.0);
		fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-size=\"9\">", x, MT + PH + 14);
		trmx__an_xml_text(f, buckets[i]);
		fprintf(f, "</text>\n");
	}
	for (size_t i = 0; i < trmx_report_version_count(r); i++) {
		const trmx_report_version *v = trmx_report_version_at(r, i);
		const char *color = palette[i % PALETTE];
		series_open(f, v);
		fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", color);
		double x, y;
		for (size_t k = 0, b = 0; k < v->points; k++)
			if (point_xy(&v->series[k], buckets, nb, &b, &x, &y))
				fprintf(f, "%.1f,%.1f ", x, y);
		fprintf(f, "\"/>\n");
		for (size_t k = 0, b = 0; k < v->points; k++) {
			const trmx_report_point *p = &v->series[k];
			if (!point_xy(p, buckets, nb, &b, &x, &y))
				continue;
			fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"><title>", x, y, color);
			series_name(f, v);
			fprintf(f, " %s: %.1f%% of %lld judged</title></circle>\n", p->bucket, 100 * p->accuracy,
				(long long)p->judged);
		}
		fputs("</g>\n", f);
		svg_legend(f, i, v->module, v->module_version);
	}
done:
	free(buckets);
	fprintf(f, "</svg>\n</figure>\n");
}

/* Steps histogram: the share of each version's runs at each step count, bars
 * side by side. */
static void chart_steps(const trmx_report *r, FILE *f)
{
	svg_open(f, "chart-steps", "Steps histogram", "ACT steps used", "share of runs");
	int smax = 0;
	double ymax = 0;
	size_t nv = trmx_report_version_count(r);
	for (size_t i = 0; i < nv; i++) {
		const trmx_report_version *v = trmx_report_version_at(r, i);
		if (v->steps_max > smax)
			smax = v->steps_max;
		for (int s = 0; v->steps_hist && s <= v->steps_max && v->steps_runs; s++) {
			double share = (double)v->steps_hist[s] / (double)v->steps_runs;
			if (share > ymax)
				ymax = share;
		}
	}
	if (ymax <= 0)
		ymax = 1;
	svg_yaxis(f, ymax, 100, "%.0f%%");
	double slot = (double)PW / (smax + 1), bar = slot * 0.8 / (double)(nv ? nv : 1);
	for (int s = 0; s <= smax; s++) {
		if (smax <= 16 || s % ((smax + 15) / 16) == 0) {
			fprintf(f,
				"<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" "
				"font-size=\"10\">%d</text>\n",
				ML + slot * (s + 0.5), MT + PH + 14, s);
		}
	}
	for (size_t i = 0; i < nv; i++) {
		const trmx_report_version *v = trmx_report_version_at(r, i);
		series_open(f, v);
		for (int s = 0; v->steps_hist && v->steps_runs && s <= v->steps_max; s++) {
			if (!v->steps_hist[s])
				continue;
			double share = (double)v->steps_hist[s] / (double)v->steps_runs, h = PH * share / ymax;
			fprintf(f,
				"<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
				"fill=\"%s\"><title>",
				ML + slot * s + slot * 0.1 + bar * (double)i, MT + PH - h, bar, h, palette[i % PALETTE]);
			series_name(f, v);
			fprintf(f, ": %lld runs used %d steps</title></rect>\n", (long long)v->steps_hist[s], s);
		}
		fputs("</g>\n", f);
		svg_legend(f, i, v->module, v->module_version);
	}
	fprintf(f, "</svg>\n</figure>\n");
}

/* Calibration curve: accuracy against mean confidence per bin, with the
 * diagonal. */
static void chart_calibration(const trmx_report *r, FILE *f)
{
	svg_open(f, "chart-calibration", "Calibration curve", "halt confidence (bin mean)", "observed accuracy");
	svg_yaxis(f, 1.0, 100, "%.0f%%");
	for (int i = 0; i <= 4; i++)
		fprintf(f,
			"<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" "
			"font-size=\"10\">%.2f</text>\n",
			ML + PW * i / 4.0, MT + PH + 14, i / 4.0);
	fprintf(f,
		"<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\" "
		"stroke-dasharray=\"4 3\"/>\n",
		ML, MT + PH, ML + PW, MT);
	/* the runs of each bin as bars along the bottom (up to a fifth of the plot for the fullest bin
	 * of any version), side by side per version, and the judged count beside each point: a point
	 * made of 3 runs and one made of 3000 do not look alike */
	size_t nv = trmx_report_version_count(r);
	int64_t most = 0;
	for (size_t i = 0; i < nv; i++) {
		const trmx_report_version *v = trmx_report_version_at(r, i);
		for (int k = 0; k < v->bins; k++)
			if (v->calibration[k].runs > most)
				most = v->calibration[k].runs;
	}
	for (size_t i = 0; i < nv; i++) {
		const trmx_report_version *v = trmx_report_version_at(r, i);
		const char *color = palette[i % PALETTE];
		series_open(f, v);
		for (int k = 0; k < v->bins && most; k++) {
			const trmx_report_bin *b = &v->calibration[k];
			if (!b->runs)
				continue;
			double bw = PW * (b->to - b->from) / (double)nv, h = PH * 0.2 * (double)b->runs / (double)most;
			fprintf(f,
				"<rect class=\"bin-runs\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
				"fill=\"%s\" fill-opacity=\"0.25\"><title>",
				ML + PW * b->from + bw * (double)i, MT + PH - h, bw, h, color);
			series_name(f, v);
			fprintf(f, ": %lld runs with a confidence in [%.2f, %.2f%c, %lld judged</title></rect>\n",
				(long long)b->runs, b->from, b->to, k == v->bins - 1 ? ']' : ')', (long long)b->judged);
		}
		fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", color);
		for (int k = 0; k < v->bins; k++) {
			const trmx_report_bin *b = &v->calibration[k];
			if (b->judged && !isnan(b->mean_confidence))
				fprintf(f, "%.1f,%.1f ", ML + PW * b->mean_confidence, MT + PH - PH * b->accuracy);
		}
		fprintf(f, "\"/>\n");
		for (int k = 0; k < v->bins; k++) {
			const trmx_report_bin *b = &v->calibration[k];
			if (!b->judged || isnan(b->mean_confidence))
				continue;
			double cx = ML + PW * b->mean_confidence, cy = MT + PH - PH * b->accuracy;
			fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"><title>", cx, cy, color);
			series_name(f, v);
			fprintf(f, ": confidence %.3f, accuracy %.3f (%lld judged)</title></circle>\n", b->mean_confidence,
				b->accuracy, (long long)b->judged);
			fprintf(f,
				"<text class=\"bin-count\" x=\"%.1f\" y=\"%.1f\" font-size=\"9\" fill=\"%s\" "
				"text-anchor=\"middle\">%lld</text>\n",
				cx, cy > MT + 12 ? cy - 6 : cy + 12, color, (long long)b->judged);
		}
		fputs("</g>\n", f);
		svg_legend(f, i, v->module, v->module_version);
	}
	fprintf(f, "</svg>\n</figure>\n");
}

static const char *verdict_class(trmx_canary_verdict v)
{
	return v == TRMX_CANARY_BETTER ? "better" : v == TRMX_CANARY_WORSE ? "worse" : "unknown";
}

/* Canary against champion: per context, the two arms' accuracies with their 95 % intervals, the
 * canary drawn in the colour of its verdict, and the verdict written above them. */
static void chart_canary(const trmx_report *r, FILE *f)
{
	size_t n = trmx_report_canary_count(r);
	if (!n)
		return;
	int rowh = 80, h = MT + MB + rowh * (int)n;
	fputs("<figure id=\"chart-canary\">\n<figcaption>Canary against champion</figcaption>\n", f);
	fprintf(f,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"100%%\" viewBox=\"0 0 %d %d\" "
		"preserveAspectRatio=\"xMidYMid meet\" role=\"img\" aria-label=\"canary against champion, 95%% "
		"intervals\">\n<title>canary against champion, 95%% intervals</title>\n",
		W, h);
	for (int i = 0; i <= 4; i++) {
		double x = ML + PW * i / 4.0;
		fprintf(f,
			"<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/><text x=\"%.1f\" y=\"%d\" "
			"text-anchor=\"middle\" font-size=\"10\">%d%%</text>\n",
			x, MT, x, h - MB, x, h - MB + 14, 25 * i);
	}
	fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"12\">exact accuracy</text>\n", ML + PW / 2,
		h - 6);
	for (size_t i = 0; i < n; i++) {
		const trmx_report_canary *k = trmx_report_canary_at(r, i);
		int top = MT + rowh * (int)i;
		const char *vc = verdict_class(k->verdict);
		const char *color = k->verdict == TRMX_CANARY_BETTER  ? "#2ca02c"
				    : k->verdict == TRMX_CANARY_WORSE ? "#d62728"
								      : "#777";
		fprintf(f,
			"<g class=\"canary\" data-verdict=\"%s\">\n<text class=\"verdict %s\" x=\"%d\" y=\"%d\" "
			"font-size=\"12\" font-weight=\"bold\" fill=\"%s\">",
			vc, vc, ML, top + 12, color);
		trmx__an_xml_text(f, *k->context ? k->context : "(none)");
		fprintf(f, ": the canary is %s", trmx_canary_verdict_name(k->verdict));
		if (k->verdict != TRMX_CANARY_UNKNOWN)
			fprintf(f, " (%+.1f points)", 100 * k->difference);
		else if (k->runs_needed > 0)
			fprintf(f, " (about %lld more judged runs)", (long long)k->runs_needed);
		fputs("</text>\n", f);
		const trmx_report_arm *arms[2] = { &k->champion, &k->canary };
		for (int j = 0; j < 2; j++) {
			const trmx_report_arm *m = arms[j];
			double y = top + 34 + 24 * j;
			const char *c = j ? color : "#1f77b4";
			fprintf(f, "<text x=\"%d\" y=\"%.1f\" font-size=\"10\">%s ", ML, y - 5, j ? "canary" : "champion");
			trmx__an_xml_text(f, m->module ? m->module : "-");
			fputc(' ', f);
			trmx__an_xml_text(f, m->module_version ? m->module_version : "");
			fprintf(f, " · %lld judged</text>\n", (long long)m->judged);
			if (!m->judged || isnan(m->accuracy))
				continue;
			fprintf(f,
				"<line class=\"interval\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
				"stroke-width=\"3\"/>\n<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"><title>",
				ML + PW * m->accuracy_low, y, ML + PW * m->accuracy_high, y, c, ML + PW * m->accuracy, y, c);
			trmx__an_xml_text(f, j ? "canary " : "champion ");
			trmx__an_xml_text(f, m->module ? m->module : "-");
			fputc(' ', f);
			trmx__an_xml_text(f, m->module_version ? m->module_version : "");
			fprintf(f, ": %.1f%% [%.1f, %.1f] of %lld judged</title></circle>\n", 100 * m->accuracy,
				100 * m->accuracy_low, 100 * m->accuracy_high, (long long)m->judged);
		}
		fputs("</g>\n", f);
	}
	fprintf(f, "</svg>\n</figure>\n");
}

static void html_cell(FILE *f, const char *s)
{
	fputs("<td>", f);
	trmx__an_xml_text(f, s);
	fputs("</td>", f);
}

static void html_num(FILE *f, const char *fmt, double v)
{
	char b[64];
	html_cell(f, num(b, sizeof b, fmt, v));
}

static void html_int(FILE *f, int64_t v)
{
	fprintf(f, "<td>%lld</td>", (long long)v);
}

static void html_interval(FILE *f, int64_t judged, double acc, double lo, double hi)
{
	if (!judged || isnan(acc))
		fputs("<td>-</td>", f);
	else
		fprintf(f, "<td>%.1f%% [%.1f, %.1f]</td>", 100 * acc, 100 * lo, 100 * hi);
}

static void write_html(const trmx_report *r, FILE *f)
{
	const trmx_report_info *in = trmx_report_info_get(r);
	fputs("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" "
	      "lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
	      "<title>trmx "
	      "report</"
	      "title>\n<style>\nbody{font-family:sans-serif;margin:2em;color:#222}"
	      "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid "
	      "#ccc;padding:3px 8px;text-align:right}"
	      "td:first-child,th:first-child{text-align:left}figure{margin:1.5em "
	      "0}figcaption{font-weight:bold}figure svg{display:block;width:100%;height:auto}"
	      ".better{color:#2ca02c}.worse{color:#d62728}\n</style>\n</"
	      "head>\n<body>\n<h1>trmx report</h1>\n<p>",
	      f);
	trmx__an_xml_text(f, in->home);
	fprintf(f, ", made %s. Window: %s to %s.", in->generated_at, in->since ? in->since : "the first run",
		in->until ? in->until : "the last run");
	if (in->context) {
		fputs(" Context ", f);
		trmx__an_xml_text(f, *in->context ? in->context : "(none)");
		fputc('.', f);
	}
	if (in->module) {
		fputs(" Module ", f);
		trmx__an_xml_text(f, in->module);
		fputc('.', f);
	}
	if (in->learner) {
		fputs(" Learner ", f);
		trmx__an_xml_text(f, in->learner);
		fputc('.', f);
	}
	if (in->kinds)
		fprintf(f, " Kinds of runs: %s.", in->kinds);
	fprintf(f, " %lld runs, %lld learners, %lld judged, %lld correct.</p>\n", (long long)in->runs,
		(long long)in->learners, (long long)in->judged, (long long)in->correct);

	fputs("<h2>Per context and module version</h2>\n<table "
	      "id=\"groups\">\n<tr><th>context</th><th>module</th>"
	      "<th>version</th><th>runs</th><th>errors</th><th>learners</th><th>judged</"
	      "th><th>accuracy [95% CI]</th><th>mean steps</th>"
	      "<th>latency p50 ms</th><th>latency p95 "
	      "ms</th><th>corrections</th></tr>\n",
	      f);
	for (size_t i = 0; i < trmx_report_group_count(r); i++) {
		const trmx_report_group *g = trmx_report_group_at(r, i);
		fputs("<tr>", f);
		html_cell(f, *g->context ? g->context : "(none)");
		html_cell(f, g->module);
		html_cell(f, g->module_version);
		html_int(f, g->runs);
		html_int(f, g->errors);
		html_int(f, g->learners);
		html_int(f, g->judged);
		html_interval(f, g->judged, g->accuracy, g->accuracy_low, g->accuracy_high);
		html_num(f, "%.2f", g->mean_steps);
		html_num(f, "%.2f", g->latency_p50);
		html_num(f, "%.2f", g->latency_p95);
		html_int(f, g->corrections);
		fputs("</tr>\n", f);
	}
	fputs("</table>\n", f);
	if (trmx_report_canary_count(r)) {
		fputs("<h2>Canary against champion</h2>\n<table "
		      "id=\"canaries\">\n<tr><th>context</th><th>arm</th><th>version</th>"
		      "<th>runs</th><th>judged</th><th>accuracy [95% "
		      "CI]</th><th>verdict</th></tr>\n",
		      f);
		for (size_t i = 0; i < trmx_report_canary_count(r); i++) {
			const trmx_report_canary *k = trmx_report_canary_at(r, i);
			const trmx_report_arm *arms[2] = { &k->champion, &k->canary };
			for (int j = 0; j < 2; j++) {
				const trmx_report_arm *m = arms[j];
				char ver[256];
				snprintf(ver, sizeof ver, "%s %s", m->module ? m->module : "-",
					 m->module_version ? m->module_version : "");
				fputs("<tr>", f);
				html_cell(f, k->context);
				html_cell(f, j ? "canary" : "champion");
				html_cell(f, ver);
				html_int(f, m->runs);
				html_int(f, m->judged);
				html_interval(f, m->judged, m->accuracy, m->accuracy_low, m->accuracy_high);
				if (j) {
					char v[160];
					if (k->verdict == TRMX_CANARY_UNKNOWN && k->runs_needed > 0)
						snprintf(v, sizeof v, "not yet known (about %lld more judged runs)",
							 (long long)k->runs_needed);
					else
						snprintf(v, sizeof v, "%s", trmx_canary_verdict_name(k->verdict));
					fprintf(f, "<td class=\"%s\">", verdict_class(k->verdict));
					trmx__an_xml_text(f, v);
					fputs("</td>", f);
				} else {
					fputs("<td></td>", f);
				}
				fputs("</tr>\n", f);
			}
		}
		fputs("</table>\n", f);
	}
	fputs("<h2>Charts</h2>\n", f);
	chart_canary(r, f);
	chart_accuracy(r, f);
	chart_steps(r, f);
	chart_calibration(r, f);
	/* the calibration's counts, bin by bin (the chart draws them; the table reads them) */
	fputs("<h2>Calibration bins</h2>\n<table id=\"calibration\">\n<tr><th>module</th><th>version</th>"
	      "<th>halt confidence</th><th>runs</th><th>judged</th><th>mean confidence</th><th>accuracy</th></tr>\n",
	      f);
	for (size_t i = 0; i < trmx_report_version_count(r); i++) {
		const trmx_report_version *v = trmx_report_version_at(r, i);
		for (int k = 0; k < v->bins; k++) {
			const trmx_report_bin *b = &v->calibration[k];
			char range[64];
			if (!b->runs)
				continue;
			snprintf(range, sizeof range, "[%.2f, %.2f%c", b->from, b->to, k == v->bins - 1 ? ']' : ')');
			fputs("<tr>", f);
			html_cell(f, v->module);
			html_cell(f, v->module_version);
			html_cell(f, range);
			html_int(f, b->runs);
			html_int(f, b->judged);
			html_num(f, "%.3f", b->mean_confidence);
			html_num(f, "%.3f", b->accuracy);
			fputs("</tr>\n", f);
		}
	}
	fputs("</table>\n</body>\n</html>\n", f);
}

int trmx_report_write(const trmx_report *r, trmx_report_format format, const char *table, FILE *f, trmx_error *err)
{
	if (!r || !f)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_report_write: missing argument");
	if (format == TRMX_REPORT_CSV && table && !trmx_report_table_valid(table))
		return trmx_error_set(err, TRMX_EINVAL,
				      "'%s' is not a report table: groups, versions, "
				      "steps, calibration, accuracy or canary",
				      table);
	switch (format) {
	case TRMX_REPORT_TEXT: write_text(r, f); break;
	case TRMX_REPORT_CSV: write_csv(r, table ? table : "groups", f); break;
	case TRMX_REPORT_JSON: {
		json_t *o = report_json(r);
		if (!o)
			return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		int s = json_dumpf(o, f, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
		json_decref(o);
		fputc('\n', f);
		if (s < 0)
			return trmx_error_set(err, TRMX_EIO, "cannot write the report");
		break;
	}
	case TRMX_REPORT_HTML: write_html(r, f); break;
	default: return trmx_error_set(err, TRMX_EINVAL, "unknown report format %d", (int)format);
	}
	return trmx__an_check_stream(f, "the report", err);
}
