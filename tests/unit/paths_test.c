/*
 * paths_test.c -- canonical paths (one spelling per folder), lookups of
 * folders that are gone, the system trees, the ownership and mode rules of
 * SPEC 5, mount points and the escaped display form.
 */
#include "config.h"

#include "unit.h"

static void
canon_ok(const char *in, const char *want)
{
	struct st_error	err;
	char		out[PATH_MAX];

	if (st_path_canon(in, out, sizeof(out), &err) == -1)
		fail_msg("canon %s: %s", in, err.msg);
	assert_string_equal(out, want);
}

static void
lookup_ok(const char *in, const char *want)
{
	struct st_error	err;
	char		out[PATH_MAX];

	if (st_path_lookup(in, out, sizeof(out), &err) == -1)
		fail_msg("lookup %s: %s", in, err.msg);
	assert_string_equal(out, want);
}

static void
test_canon_spellings(void **state)
{
	struct unit	*u = *state;
	char		 real[PATH_MAX], in[PATH_MAX];

	unit_path(u, real, sizeof(real), "proj");
	assert_int_equal(mkdir(real, 0755), 0);
	unit_path(u, in, sizeof(in), "link");
	assert_int_equal(symlink(real, in), 0);

	canon_ok(real, real);
	canon_ok(unit_path(u, in, sizeof(in), "link"), real);
	canon_ok(unit_path(u, in, sizeof(in), "proj/"), real);
	canon_ok(unit_path(u, in, sizeof(in), "proj//"), real);
	canon_ok(unit_path(u, in, sizeof(in), "proj/../proj"), real);
	canon_ok(unit_path(u, in, sizeof(in), "./proj/."), real);
	canon_ok(unit_path(u, in, sizeof(in), "link/../proj/"), real);
	/* Relative to the current directory. */
	assert_int_equal(chdir(u->root), 0);
	canon_ok("proj", real);
	canon_ok("link/", real);
	canon_ok("./proj/../proj", real);
	canon_ok("/", "/");
}

static void
test_canon_refusals(void **state)
{
	struct unit	*u = *state;
	struct st_error	 err;
	char		 out[PATH_MAX], in[PATH_MAX], *big;

	unit_path(u, in, sizeof(in), "missing");
	assert_int_equal(st_path_canon(in, out, sizeof(out), &err), -1);
	assert_int_equal(err.code, ST_ENOTFOUND);
	assert_non_null(strstr(err.msg, in));

	unit_path(u, in, sizeof(in), "file");
	unit_write(in, "x");
	assert_int_equal(st_path_canon(in, out, sizeof(out), &err), -1);
	assert_int_equal(err.code, ST_ENOTFOUND);
	assert_non_null(strstr(err.msg, "not a directory"));

	assert_int_equal(st_path_canon("", out, sizeof(out), &err), -1);
	assert_int_equal(err.code, ST_EARGS);
	assert_non_null(strstr(err.msg, "empty"));
	assert_int_equal(st_path_canon(NULL, out, sizeof(out), &err), -1);
	assert_int_equal(err.code, ST_EARGS);

	big = malloc(PATH_MAX + 100);
	assert_non_null(big);
	memset(big, 'a', PATH_MAX + 99);
	big[0] = '/';
	big[PATH_MAX + 99] = '\0';
	assert_int_equal(st_path_canon(big, out, sizeof(out), &err), -1);
	assert_int_equal(err.code, ST_EARGS);
	assert_non_null(strstr(err.msg, "too long"));
	assert_int_equal(st_path_lookup(big, out, sizeof(out), &err), -1);
	assert_int_equal(err.code, ST_EARGS);
	/* Short enough as a whole, but one name longer than NAME_MAX. */
	memset(big, 'b', 400);
	big[0] = '/';
	big[400] = '\0';
	assert_int_equal(st_path_canon(big, out, sizeof(out), &err), -1);
	assert_true(err.code == ST_EARGS || err.code == ST_ENOTFOUND);
	free(big);

	/* The caller's buffer is too small for the answer. */
	unit_path(u, in, sizeof(in), "d");
	assert_int_equal(mkdir(in, 0755), 0);
	assert_int_equal(st_path_canon(in, out, 4, &err), -1);
	assert_int_equal(err.code, ST_EARGS);
}

/* A folder that is gone still has one spelling, for remove and disable. */
static void
test_lookup_missing(void **state)
{
	struct unit	*u = *state;
	char		 real[PATH_MAX], in[PATH_MAX], want[PATH_MAX];
	struct st_error	 err;
	char		 out[PATH_MAX];

	unit_path(u, real, sizeof(real), "real");
	assert_int_equal(mkdir(real, 0755), 0);
	assert_int_equal(symlink(real, unit_path(u, in, sizeof(in), "link")),
	    0);
	unit_path(u, want, sizeof(want), "real/gone");

	lookup_ok(real, real);
	lookup_ok(unit_path(u, in, sizeof(in), "real/gone"), want);
	lookup_ok(unit_path(u, in, sizeof(in), "real/gone/"), want);
	lookup_ok(unit_path(u, in, sizeof(in), "real//gone"), want);
	lookup_ok(unit_path(u, in, sizeof(in), "real/gone/../gone"), want);
	lookup_ok(unit_path(u, in, sizeof(in), "real/./x/../gone"), want);
	lookup_ok(unit_path(u, in, sizeof(in), "link/gone"), want);
	lookup_ok(unit_path(u, in, sizeof(in), "link/gone/deeper/.."), want);
	assert_int_equal(chdir(real), 0);
	lookup_ok("gone", want);
	lookup_ok("./gone/", want);
	lookup_ok("/no-such-top-dir-for-steroids/x/..",
	    "/no-such-top-dir-for-steroids");
	assert_int_equal(st_path_lookup("", out, sizeof(out), &err), -1);
	assert_int_equal(err.code, ST_EARGS);
}

static void
test_system_trees(void **state)
{
	static const char *const sys[] = { "/", "/etc", "/etc/ssh", "/usr",
	    "/usr/local/src/p", "/bin", "/sbin", "/lib", "/lib64",
	    "/lib/modules", "/libx32", "/boot", "/dev", "/dev/shm/p", "/proc",
	    "/proc/1", "/sys", "/sys/fs", "/System", "/System/Library", "/var",
	    "/var/tmp/p", "/var/lib/x", NULL };
	static const char *const ok[] = { "/home/u/p", "/tmp/p", "/srv/p",
	    "/etcetera", "/usrlocal", "/variable", "/opt/p", "/root/p",
	    "/media/u/USB/p", "/mnt/p", "/binaries", NULL };
	size_t	i;

	(void)state;
	setenv("HOME", "/home/u", 1);
	for (i = 0; sys[i] != NULL; i++)
		if (!st_path_is_system(sys[i]))
			fail_msg("%s should be a system tree", sys[i]);
	for (i = 0; ok[i] != NULL; i++)
		if (st_path_is_system(ok[i]))
			fail_msg("%s should not be a system tree", ok[i]);

	/* /var is fine inside $HOME (e.g. /var/home on Silverblue). */
	setenv("HOME", "/var/home/u", 1);
	assert_false(st_path_is_system("/var/home/u/src/p"));
	assert_false(st_path_is_system("/var/home/u"));
	assert_true(st_path_is_system("/var/home/other/p"));
	assert_true(st_path_is_system("/var/home/uu/p"));
	assert_true(st_path_is_system("/var/tmp"));
	/* A HOME of "/" or unset grants nothing. */
	setenv("HOME", "/", 1);
	assert_true(st_path_is_system("/var/x"));
	unsetenv("HOME");
	assert_true(st_path_is_system("/var/x"));
}

static void
check_fails(const char *path, int code, const char *needle)
{
	struct st_error	err;

	memset(&err, 0, sizeof(err));
	if (st_path_check_project(path, &err) != -1)
		fail_msg("check %s should fail", path);
	if (err.code != code)
		fail_msg("check %s: code %d, want %d (%s)", path, err.code,
		    code, err.msg);
	if (needle != NULL && strstr(err.msg, needle) == NULL)
		fail_msg("check %s: '%s' does not name '%s'", path, err.msg,
		    needle);
	if (strchr(err.msg, '\n') != NULL)
		fail_msg("check %s: message is not one line", path);
}

static void
test_check_project(void **state)
{
	struct unit	*u = *state;
	struct st_error	 err;
	char		 dir[PATH_MAX], sub[PATH_MAX], db[PATH_MAX + 16];

	unit_path(u, dir, sizeof(dir), "p");
	check_fails(dir, ST_ENOTFOUND, dir);
	unit_write(dir, "a file");
	check_fails(dir, ST_ENOTFOUND, dir);
	assert_int_equal(unlink(dir), 0);

	/* Not initialised: the message names the folder. */
	assert_int_equal(mkdir(dir, 0755), 0);
	check_fails(dir, ST_ENOTINIT, dir);
	snprintf(sub, sizeof(sub), "%s/.steroids", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	check_fails(dir, ST_ENOTINIT, dir);

	unit_project(u, "p", NULL, 0);
	assert_int_equal(st_path_check_project(dir, &err), 0);

	/* A group- or world-writable .steroids is refused with the fix. */
	assert_int_equal(chmod(sub, 0770), 0);
	check_fails(dir, ST_EPERM, "chmod go-w");
	assert_int_equal(chmod(sub, 0702), 0);
	check_fails(dir, ST_EPERM, sub);
	assert_int_equal(chmod(sub, 0700), 0);
	assert_int_equal(st_path_check_project(dir, &err), 0);

	/* .steroids as a symlink to somewhere else is not ours to trust. */
	snprintf(db, sizeof(db), "%s/.steroids-real", dir);
	assert_int_equal(rename(sub, db), 0);
	assert_int_equal(symlink(db, sub), 0);
	check_fails(dir, ST_EPERM, sub);

	check_fails("/etc", ST_EPERM, "system");
	check_fails("/", ST_EPERM, "system");
}

/* As root we can hand folders to nobody and see them refused. */
static void
test_check_project_owner(void **state)
{
	struct unit	*u = *state;
	char		 dir[PATH_MAX], sub[PATH_MAX];

	if (geteuid() != 0)
		unit_skip("needs root to hand a folder to another uid");
	unit_project(u, "p", dir, sizeof(dir));
	snprintf(sub, sizeof(sub), "%s/.steroids", dir);
	assert_int_equal(chown(dir, 65534, 65534), 0);
	check_fails(dir, ST_EPERM, "uid 65534");
	assert_int_equal(chown(dir, 0, 0), 0);
	assert_int_equal(chown(sub, 65534, 65534), 0);
	check_fails(dir, ST_EPERM, sub);
}

static void
test_mount_point(void **state)
{
	struct unit	*u = *state;
	char		 dir[PATH_MAX], mp[PATH_MAX];

	unit_path(u, dir, sizeof(dir), "a");
	assert_int_equal(mkdir(dir, 0755), 0);
	unit_path(u, dir, sizeof(dir), "a/b");
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(st_path_mount_point(dir, mp, sizeof(mp)), 0);
	/* The mount point holds the folder and is mounted. */
	assert_int_equal(strncmp(dir, mp, strlen(mp)), 0);
	assert_true(st_path_is_mounted(mp));
	assert_true(st_path_is_mounted("/"));
	/* An ordinary folder is not a mount point. */
	assert_false(st_path_is_mounted(dir));
	assert_false(st_path_is_mounted(u->root) && strcmp(mp, u->root) != 0);
	unit_path(u, dir, sizeof(dir), "nope");
	assert_int_equal(st_path_mount_point(dir, mp, sizeof(mp)), -1);
	assert_false(st_path_is_mounted(dir));
}

static void
test_display(void **state)
{
	char	out[ST_DISPLAY_MAX];

	(void)state;
	setenv("HOME", "/home/u", 1);
	st_path_display("/home/u/src/p", out, sizeof(out));
	assert_string_equal(out, "~/src/p");
	st_path_display("/home/u", out, sizeof(out));
	assert_string_equal(out, "~");
	st_path_display("/home/uu/p", out, sizeof(out));
	assert_string_equal(out, "/home/uu/p");
	st_path_display("/tmp/with space", out, sizeof(out));
	assert_string_equal(out, "/tmp/with space");
	st_path_display("/tmp/new\nline", out, sizeof(out));
	assert_string_equal(out, "/tmp/new\\nline");
	st_path_display("/tmp/tab\there", out, sizeof(out));
	assert_string_equal(out, "/tmp/tab\\there");
	st_path_display("/tmp/esc\033[31m", out, sizeof(out));
	assert_null(strchr(out, '\033'));
	st_path_display("/tmp/bad\377byte", out, sizeof(out));
	assert_null(strchr(out, '\377'));
	assert_non_null(strstr(out, "\\377"));
	/* UTF-8 is shown as it is. */
	st_path_display("/tmp/caf\303\251", out, sizeof(out));
	assert_string_equal(out, "/tmp/caf\303\251");
	/* But not C1 controls (U+009B is CSI to some terminals): \ooo. */
	st_path_display("/tmp/csi\302\2332J", out, sizeof(out));
	assert_string_equal(out, "/tmp/csi\\302\\2332J");
	st_path_display("/tmp/\302\200-\302\237|\302\240", out,
	    sizeof(out));
	assert_string_equal(out, "/tmp/\\302\\200-\\302\\237|\302\240");
	assert_true(st_utf8_c1("\302\205"));
	assert_false(st_utf8_c1("\302\240"));
	assert_false(st_utf8_c1("\302"));
	/* A short buffer truncates, never overflows. */
	st_path_display("/tmp/a-rather-long-name", out, 8);
	assert_int_equal(strlen(out), 7);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		st_test(test_canon_spellings),
		st_test(test_canon_refusals),
		st_test(test_lookup_missing),
		st_test(test_system_trees),
		st_test(test_check_project),
		st_test(test_check_project_owner),
		st_test(test_mount_point),
		st_test(test_display),
	};

	return (unit_run_group(tests));
}
