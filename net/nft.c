/*
 * berth's nftables table through libnftables.  The whole table is written
 * at once from berthd's state: "add table; delete table; table { ... }" in
 * one buffer is one transaction, so the table is always either the old or
 * the new one, a crash leaves a table the next apply replaces, and nothing
 * outside berth's table is ever read or changed.
 */
#include "net.h"

#include <errno.h>
#include <nftables/libnftables.h>
#include <string.h>

struct net_nft {
	struct nft_ctx *ctx;
};

net_nft *net_nft_new(berth_error *err)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!ctx) {
		berth_error_msg(err, ENOMEM, "nftables: cannot create a context");
		return NULL;
	}
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	net_nft *n = xzalloc(sizeof *n);
	n->ctx = ctx;
	return n;
}

void net_nft_free(net_nft *n)
{
	if (!n)
		return;
	nft_ctx_free(n->ctx);
	free(n);
}

int net_nft_apply(net_nft *n, const char *table, const char *body, berth_error *err)
{
	_cleanup_free_ char *cmd =
	    body ? xasprintf("add table ip %s\ndelete table ip %s\ntable ip %s {\n%s}\n", table,
			     table, table, body)
		 : xasprintf("add table ip %s\ndelete table ip %s\n", table, table);
	if (nft_run_cmd_from_buffer(n->ctx, cmd) != 0) {
		const char *e = nft_ctx_get_error_buffer(n->ctx);
		_cleanup_free_ char *msg = xstrdup(e && *e ? e : "failed");
		size_t l = strlen(msg);
		while (l && (msg[l - 1] == '\n' || msg[l - 1] == ' '))
			msg[--l] = '\0';
		return berth_error_msg(err, EIO, "nftables: %s", msg);
	}
	return 0;
}
