/* wav-compare: how well does a recorded WAV match a reference WAV?
 *
 *   wav-compare [--window-ms N] [--threshold-db D] REF.wav TEST.wav
 *   wav-compare --info FILE.wav
 *
 * Both files are 16-bit PCM at the same rate; more than one channel is
 * averaged to mono. Leading near-silence in TEST (below --threshold-db,
 * default -40 dBFS) is skipped; the lag of TEST against REF is searched in
 * +-window (default 100 ms) around the onset, and the best normalized
 * cross-correlation over the overlapping region is reported, refined to a
 * fraction of a sample (resamplers delay by fractions of a sample, which
 * would otherwise cost high frequencies their correlation):
 *
 *   ref_ms=5000.0 test_ms=5310.2 onset_ms=12.3 active_ms=5001.1 lag=196.42 correlation=0.9991
 *
 * active_ms is the span from the first to the last sample of TEST above the
 * threshold; lag is in samples (TEST index = REF index + lag).
 * Exit status: 0 on valid input (whatever the score), 2 on bad input or usage,
 * with a one-line error on stderr.
 *
 * A WAV whose header sizes were never finalized (data size 0 or 0xFFFFFFFF,
 * or larger than the file) is read up to the end of the file.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_WINDOW_MS	100.0
#define DEFAULT_THRESHOLD_DB	-40.0
#define SINC_HALF		16	/* interpolation taps per side */
#define REFINE_STEPS		24
#define WAV_FORMAT_PCM		0x0001
#define WAV_FORMAT_EXTENSIBLE	0xFFFE

struct wav {
	const char *path;
	uint32_t rate;
	uint16_t channels;
	size_t frames;
	double *mono;		/* frames samples, scaled to [-1, 1) */
};

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void fail(const char *fmt, ...)
{
	va_list ap;
	fputs("wav-compare: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint8_t *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0;

	if (f == NULL)
		fail("%s: cannot open: %s", path, strerror(errno));
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 1 << 16;
			if ((buf = realloc(buf, cap)) == NULL)
				fail("%s: out of memory", path);
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f))
		fail("%s: read error", path);
	fclose(f);
	*len = n;
	return buf;
}

/* Walks the RIFF chunks; tolerates unfinalized RIFF and data sizes. */
static void wav_load(struct wav *w, const char *path)
{
	size_t len, pos = 12, data_off = 0, data_len = 0;
	uint8_t *buf = read_all(path, &len);
	int have_fmt = 0;

	w->path = path;
	if (len < 12 || memcmp(buf, "RIFF", 4) != 0 || memcmp(buf + 8, "WAVE", 4) != 0)
		fail("%s: not a RIFF/WAVE file", path);

	while (pos + 8 <= len) {
		const uint8_t *ck = buf + pos;
		uint32_t size = le32(ck + 4);

		if (memcmp(ck, "fmt ", 4) == 0) {
			if (size < 16 || pos + 8 + size > len)
				fail("%s: truncated fmt chunk", path);
			uint16_t format = le16(ck + 8), bits = le16(ck + 22);
			if (format == WAV_FORMAT_EXTENSIBLE && size >= 40)
				format = le16(ck + 8 + 24);	/* sub-format GUID */
			if (format != WAV_FORMAT_PCM || bits != 16)
				fail("%s: not 16-bit PCM (format=0x%04x bits=%u)", path, format, bits);
			w->channels = le16(ck + 10);
			w->rate = le32(ck + 12);
			if (w->channels == 0 || w->rate == 0)
				fail("%s: bad fmt chunk (channels=%u rate=%u)", path,
						w->channels, w->rate);
			have_fmt = 1;
		} else if (memcmp(ck, "data", 4) == 0) {
			data_off = pos + 8;
			data_len = len - data_off;
			if (size != 0 && size != UINT32_MAX && size <= data_len)
				data_len = size;
			break;
		}
		pos += 8 + (size_t)size + (size & 1);
	}
	if (!have_fmt)
		fail("%s: no fmt chunk before the data", path);
	if (data_off == 0)
		fail("%s: no data chunk", path);

	w->frames = data_len / (2u * w->channels);
	w->mono = calloc(w->frames ? w->frames : 1, sizeof(double));
	if (w->mono == NULL)
		fail("%s: out of memory", path);
	for (size_t i = 0; i < w->frames; i++) {
		const uint8_t *p = buf + data_off + i * 2u * w->channels;
		double sum = 0.0;
		for (uint16_t c = 0; c < w->channels; c++)
			sum += (int16_t)le16(p + 2u * c);
		w->mono[i] = sum / w->channels / 32768.0;
	}
	free(buf);
}

static double frames_ms(size_t frames, uint32_t rate)
{
	return frames * 1000.0 / rate;
}

/* Normalized cross-correlation of ref[i] with test[i + lag] over the overlap.
 * ref_sq/test_sq are prefix sums of squares (n + 1 entries). */
static double ncc(const struct wav *ref, const double *ref_sq,
		const struct wav *test, const double *test_sq, long lag)
{
	long i0 = lag < 0 ? -lag : 0;
	long i1 = (long)ref->frames;
	double dot = 0.0, er, et;

	if (i1 > (long)test->frames - lag)
		i1 = (long)test->frames - lag;
	if (i1 - i0 < 2)
		return 0.0;
	for (long i = i0; i < i1; i++)
		dot += ref->mono[i] * test->mono[i + lag];
	er = ref_sq[i1] - ref_sq[i0];
	et = test_sq[i1 + lag] - test_sq[i0 + lag];
	if (er <= 0.0 || et <= 0.0)
		return 0.0;
	return dot / sqrt(er * et);
}

static double *prefix_squares(const struct wav *w)
{
	double *sq = malloc((w->frames + 1) * sizeof(double));
	if (sq == NULL)
		fail("%s: out of memory", w->path);
	sq[0] = 0.0;
	for (size_t i = 0; i < w->frames; i++)
		sq[i + 1] = sq[i] + w->mono[i] * w->mono[i];
	return sq;
}

/* ncc at a fractional lag: TEST is interpolated with a Hann-windowed sinc. */
static double ncc_frac(const struct wav *ref, const struct wav *test, double lag)
{
	double base = floor(lag), d = lag - base, h[2 * SINC_HALF], dot = 0.0, er = 0.0, et = 0.0;
	long n0 = (long)base, i0 = 0, i1 = (long)ref->frames;

	for (int k = 0; k < 2 * SINC_HALF; k++) {
		double x = d - (k - SINC_HALF + 1);	/* distance to tap k */
		double win = 0.5 + 0.5 * cos(M_PI * x / SINC_HALF);
		h[k] = (fabs(x) < 1e-12 ? 1.0 : sin(M_PI * x) / (M_PI * x)) * win;
	}
	if (i0 < SINC_HALF - n0)
		i0 = SINC_HALF - n0;
	if (i1 > (long)test->frames - SINC_HALF - n0)
		i1 = (long)test->frames - SINC_HALF - n0;
	for (long i = i0; i < i1; i++) {
		const double *t = test->mono + i + n0 - SINC_HALF + 1;
		double v = 0.0;
		for (int k = 0; k < 2 * SINC_HALF; k++)
			v += t[k] * h[k];
		dot += ref->mono[i] * v;
		er += ref->mono[i] * ref->mono[i];
		et += v * v;
	}
	return er > 0.0 && et > 0.0 ? dot / sqrt(er * et) : 0.0;
}

/* Golden-section search for the best lag within one sample of lag0.
 * Returns the lag; *best is raised to its correlation if that is higher. */
static double refine_lag(const struct wav *ref, const struct wav *test, long lag0, double *best)
{
	const double g = (sqrt(5.0) - 1.0) / 2.0;
	double a = lag0 - 1.0, b = lag0 + 1.0;
	double x1 = b - g * (b - a), x2 = a + g * (b - a);
	double f1 = ncc_frac(ref, test, x1), f2 = ncc_frac(ref, test, x2);

	for (int it = 0; it < REFINE_STEPS; it++) {
		if (f1 < f2) {
			a = x1; x1 = x2; f1 = f2;
			x2 = a + g * (b - a);
			f2 = ncc_frac(ref, test, x2);
		} else {
			b = x2; x2 = x1; f2 = f1;
			x1 = b - g * (b - a);
			f1 = ncc_frac(ref, test, x1);
		}
	}
	double x = f1 > f2 ? x1 : x2, f = f1 > f2 ? f1 : f2;
	if (f <= *best)
		return (double)lag0;
	*best = f;
	return x;
}

/* First (dir > 0) or last (dir < 0) index above thr, or -1. */
static long find_active(const struct wav *w, double thr, int dir)
{
	for (size_t k = 0; k < w->frames; k++) {
		size_t i = dir > 0 ? k : w->frames - 1 - k;
		if (fabs(w->mono[i]) >= thr)
			return (long)i;
	}
	return -1;
}

static int cmd_info(const char *path)
{
	struct wav w;
	wav_load(&w, path);
	printf("rate=%u channels=%u frames=%zu duration_ms=%.1f\n",
			w.rate, w.channels, w.frames, frames_ms(w.frames, w.rate));
	free(w.mono);
	return 0;
}

static int cmd_compare(const char *ref_path, const char *test_path,
		double window_ms, double threshold_db)
{
	struct wav ref, test;
	double thr = pow(10.0, threshold_db / 20.0);

	wav_load(&ref, ref_path);
	wav_load(&test, test_path);
	if (ref.rate != test.rate)
		fail("rates differ: %s is %u Hz, %s is %u Hz; resample the reference",
				ref_path, ref.rate, test_path, test.rate);

	long t_on = find_active(&test, thr, 1), t_off = find_active(&test, thr, -1);
	long r_on = find_active(&ref, thr, 1);
	double best = 0.0, frac = 0.0;
	long best_lag = 0;

	if (t_on >= 0 && r_on >= 0) {
		double *ref_sq = prefix_squares(&ref), *test_sq = prefix_squares(&test);
		long w = (long)(window_ms * ref.rate / 1000.0), center = t_on - r_on;

		best = -2.0;
		for (long lag = center - w; lag <= center + w; lag++) {
			double v = ncc(&ref, ref_sq, &test, test_sq, lag);
			if (v > best) {
				best = v;
				best_lag = lag;
			}
		}
		double lag_f = refine_lag(&ref, &test, best_lag, &best);
		frac = lag_f - best_lag;
		if (best > 1.0)
			best = 1.0;
		free(ref_sq);
		free(test_sq);
	}

	printf("ref_ms=%.1f test_ms=%.1f onset_ms=%.1f active_ms=%.1f lag=%.2f correlation=%.4f\n",
			frames_ms(ref.frames, ref.rate), frames_ms(test.frames, test.rate),
			t_on >= 0 ? frames_ms((size_t)t_on, test.rate) : 0.0,
			t_on >= 0 ? frames_ms((size_t)(t_off - t_on + 1), test.rate) : 0.0,
			best_lag + frac, best);
	free(ref.mono);
	free(test.mono);
	return 0;
}

static double parse_number(const char *opt, const char *val)
{
	char *end;
	double v;
	if (val == NULL)
		fail("%s needs a value", opt);
	errno = 0;
	v = strtod(val, &end);
	if (errno != 0 || end == val || *end != '\0')
		fail("%s: not a number: '%s'", opt, val);
	return v;
}

int main(int argc, char **argv)
{
	double window_ms = DEFAULT_WINDOW_MS, threshold_db = DEFAULT_THRESHOLD_DB;
	const char *files[2];
	int n_files = 0;

	if (argc == 3 && strcmp(argv[1], "--info") == 0)
		return cmd_info(argv[2]);

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--window-ms") == 0) {
			window_ms = parse_number(argv[i], argv[i + 1]);
			i++;
		} else if (strcmp(argv[i], "--threshold-db") == 0) {
			threshold_db = parse_number(argv[i], argv[i + 1]);
			i++;
		} else if (n_files < 2 && argv[i][0] != '-') {
			files[n_files++] = argv[i];
		} else {
			fail("usage: wav-compare [--window-ms N] [--threshold-db D] REF.wav TEST.wav"
					" | --info FILE.wav");
		}
	}
	if (n_files != 2 || window_ms < 0.0)
		fail("usage: wav-compare [--window-ms N] [--threshold-db D] REF.wav TEST.wav"
				" | --info FILE.wav");
	return cmd_compare(files[0], files[1], window_ms, threshold_db);
}
