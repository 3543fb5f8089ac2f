/* The table walker: applies a section's key table to a libconfig group,
 * checking each key's type and range, storing it, filling defaults and
 * refusing unknown and missing keys, with the first error as
 * "FILE:LINE: message". */
#include "config_walk.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "addr.h"
#include "config_keys-t.h"

static int is_int(const config_setting_t *s)
{
	int t = config_setting_type(s);
	return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
}

static const struct key_spec *find_key(const struct key_part *const *parts, size_t n_parts,
				       const char *name)
{
	for (size_t p = 0; p < n_parts; p++)
		for (size_t i = 0; i < parts[p]->n; i++)
			if (strcmp(parts[p]->keys[i].name, name) == 0)
				return &parts[p]->keys[i];
	return NULL;
}


static void store_uint(void *field, size_t size, unsigned long long v)
{
	if (size == sizeof(uint64_t)) {
		uint64_t x = v;
		memcpy(field, &x, sizeof(x));
	} else {
		uint32_t x = (uint32_t)v;
		memcpy(field, &x, sizeof(x));
	}
}

/* Fills k's field with its default (k absent from the file); 0, or the
 * error of a required key or of memory. */
static int set_default(const struct cfg_loader *ld, const struct cfg_section *sec,
		       const struct key_spec *k, const config_setting_t *g, void *base)
{
	if (k->required)
		return cfg_fail(ld, g, "%s is missing \"%s\"", sec->who, k->name);
	if (k->type == KEY_UINT) {
		store_uint((char *)base + k->offset, k->size, (unsigned long long)k->def);
	} else if (k->type == KEY_ENUM || k->type == KEY_BOOL) {
		unsigned int e = (unsigned int)k->def;
		memcpy((char *)base + k->offset, &e, sizeof(e));
	} else if (k->type == KEY_STRING && k->def_str != NULL) {
		char *copy = strdup(k->def_str);
		if (copy == NULL)
			return cfg_fail_nomem(ld);
		memcpy((char *)base + k->offset, &copy, sizeof(copy));
	}
	return 0;
}

/* An allow or deny list: an array of prefixes, each checked (the error
 * names its line), into a built nlb_acl.  An empty array is no list. */
static int set_cidrs(const struct cfg_loader *ld, const struct cfg_section *sec,
		     const struct key_spec *k, const config_setting_t *s, void *field)
{
	int type = config_setting_type(s);
	if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
		return cfg_fail(ld, s, "%s\"%s\" must be an array of prefixes "
				"[ \"10.0.0.0/8\", \"2001:db8::/32\" ]", sec->prefix, k->name);
	int n = config_setting_length(s);
	struct nlb_acl *old;
	memcpy(&old, field, sizeof(old));
	nlb_acl_free(old);
	old = NULL;
	memcpy(field, &old, sizeof(old));
	if (n == 0)
		return 0;
	struct nlb_acl *acl = nlb_acl_new();
	if (acl == NULL)
		return cfg_fail_nomem(ld);
	/* Stored at once, so nlb_config_free frees it whatever fails next. */
	memcpy(field, &acl, sizeof(acl));
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *v = config_setting_get_string(e);
		struct nlb_cidr c;
		if (v == NULL)
			return cfg_fail(ld, e, "%s\"%s\": entry %d must be a string", sec->prefix,
					k->name, i + 1);
		if (nlb_cidr_parse(v, &c) < 0)
			return cfg_fail(ld, e, "%s\"%s\": bad prefix \"%s\" (expected a.b.c.d/len "
					"or v6/len with no bits set past len)", sec->prefix, k->name,
					v);
		int r = nlb_acl_add(acl, &c);
		if (r == -ENOSPC)
			return cfg_fail(ld, e, "%s\"%s\": more than %u prefixes", sec->prefix,
					k->name, NLB_ACL_MAX_PREFIXES);
		if (r < 0)
			return cfg_fail_nomem(ld);
	}
	if (nlb_acl_build(acl) < 0)
		return cfg_fail_nomem(ld);
	return 0;
}

static int set_key(const struct cfg_loader *ld, const struct cfg_section *sec,
		   const struct key_spec *k, const config_setting_t *s,
		   void *base)
{
	char *field = (char *)base + k->offset;

	switch (k->type) {
	case KEY_UINT: {
		if (!is_int(s))
			return cfg_fail(ld, s, "%s\"%s\" must be an integer",
					sec->prefix, k->name);
		long long v = config_setting_get_int64(s);
		if (v < k->min || v > k->max)
			return cfg_fail(ld, s, "%s\"%s\" must be between %lld and %lld (got %lld)",
					sec->prefix, k->name, k->min, k->max, v);
		store_uint(field, k->size, (unsigned long long)v);
		return 0;
	}
	case KEY_ENUM: {
		if (config_setting_type(s) != CONFIG_TYPE_STRING)
			return cfg_fail(ld, s, "%s\"%s\" must be a string",
					sec->prefix, k->name);
		const char *v = config_setting_get_string(s);
		for (size_t i = 0; i < k->n_names; i++) {
			if (strcmp(v, k->names[i]) == 0) {
				unsigned int e = (unsigned int)i;
				memcpy(field, &e, sizeof(e));
				return 0;
			}
		}
		char choices[128] = "";
		size_t used = 0;
		for (size_t i = 0; i < k->n_names && used < sizeof(choices); i++) {
			int w = snprintf(choices + used, sizeof(choices) - used,
					 "%s%s", i ? ", " : "", k->names[i]);
			if (w < 0)
				break;
			used += (size_t)w;
		}
		return cfg_fail(ld, s, "%s\"%s\" must be one of %s (got \"%s\")",
				sec->prefix, k->name, choices, v);
	}
	case KEY_STRING: {
		if (config_setting_type(s) != CONFIG_TYPE_STRING)
			return cfg_fail(ld, s, "%s\"%s\" must be a string",
					sec->prefix, k->name);
		const char *v = config_setting_get_string(s);
		if (*v == '\0')
			return cfg_fail(ld, s, "%s\"%s\" must not be empty",
					sec->prefix, k->name);
		char *copy = strdup(v);
		if (copy == NULL)
			return cfg_fail_nomem(ld);
		char *old;
		memcpy(&old, field, sizeof(old));
		free(old);
		memcpy(field, &copy, sizeof(copy));
		return 0;
	}
	case KEY_ADDR: {
		if (config_setting_type(s) != CONFIG_TYPE_STRING)
			return cfg_fail(ld, s, "%s\"%s\" must be a string",
					sec->prefix, k->name);
		const char *v = config_setting_get_string(s);
		/* Port 0 would bind an ephemeral port nobody can reach, or
		 * send traffic nowhere; both are configuration mistakes. */
		struct nlb_addr a;
		if (nlb_addr_parse(v, 0, &a) < 0)
			return cfg_fail(ld, s, "%sbad address \"%s\" (expected host:port or "
					"[v6]:port)", sec->prefix, v);
		memcpy(field, &a, sizeof(a));
		/* nlb_addr_parse refuses text that does not fit, so this
		 * copy never truncates. */
		snprintf((char *)base + k->text_offset, NLB_ADDRSTRLEN, "%s", v);
		return 0;
	}
	case KEY_LIST:
		if (config_setting_type(s) != CONFIG_TYPE_LIST)
			return cfg_fail(ld, s, "%s\"%s\" must be a list ( ... )",
					sec->prefix, k->name);
		return 0;
	case KEY_BOOL: {
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			return cfg_fail(ld, s, "%s\"%s\" must be true or false",
					sec->prefix, k->name);
		unsigned int b = config_setting_get_bool(s) ? 1 : 0;
		memcpy(field, &b, sizeof(b));
		return 0;
	}
	case KEY_CIDRS:
		return set_cidrs(ld, sec, k, s, field);
	case KEY_GROUP:
		if (config_setting_type(s) != CONFIG_TYPE_GROUP)
			return cfg_fail(ld, s, "%s\"%s\" must be a group { ... }",
					sec->prefix, k->name);
		return 0;
	}
	return cfg_fail(ld, s, "internal error: key \"%s\" has no type", k->name);
}

int cfg_apply_keys(const struct cfg_loader *ld, const struct cfg_section *sec,
		   enum nlb_config_section section, const config_setting_t *g, void *base)
{
	size_t n_parts;
	const struct key_part *const *parts = cfg_section_parts(section, &n_parts);
	int r;

	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const struct key_spec *k = find_key(parts, n_parts, config_setting_name(s));
		if (k == NULL)
			return cfg_fail(ld, s, "unknown key \"%s\" %s",
					config_setting_name(s), sec->where);
		if ((r = set_key(ld, sec, k, s, base)) < 0)
			return r;
	}

	for (size_t p = 0; p < n_parts; p++) {
		for (size_t i = 0; i < parts[p]->n; i++) {
			const struct key_spec *k = &parts[p]->keys[i];
			if (config_setting_get_member(g, k->name) == NULL &&
			    (r = set_default(ld, sec, k, g, base)) < 0)
				return r;
		}
	}
	return 0;
}

int cfg_get_list(const struct cfg_loader *ld, const config_setting_t *g, const char *key,
		 const char *elem_name, config_setting_t **out, size_t *n)
{
	config_setting_t *list = config_setting_get_member(g, key);
	*out = list;
	*n = 0;
	if (list == NULL)
		return 0;
	for (int i = 0; i < config_setting_length(list); i++) {
		const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
		if (config_setting_type(e) != CONFIG_TYPE_GROUP)
			return cfg_fail(ld, e, "each entry of \"%s\" must be a %s { ... }",
					key, elem_name);
	}
	*n = (size_t)config_setting_length(list);
	return 0;
}

const config_setting_t *cfg_member_or(const config_setting_t *g, const char *key)
{
	const config_setting_t *s = config_setting_get_member(g, key);
	return s != NULL ? s : g;
}

int cfg_read_name(const struct cfg_loader *ld, const config_setting_t *g, const char *kind,
		  char *label, size_t len)
{
	const config_setting_t *s = config_setting_get_member(g, "name");
	if (s == NULL)
		return cfg_fail(ld, g, "%s is missing \"name\"", kind);
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return cfg_fail(ld, s, "%s: \"name\" must be a string", kind);
	if (*config_setting_get_string(s) == '\0')
		return cfg_fail(ld, s, "%s: \"name\" must not be empty", kind);
	/* Names are cut in messages only, never in the loaded config. */
	snprintf(label, len, "%s \"%.200s\"", kind, config_setting_get_string(s));
	return 0;
}
