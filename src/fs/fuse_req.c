/* Reading FUSE requests out of, and writing replies into, scattered guest buffers. */
#include "fs/fuse_req.h"

#include <errno.h>
#include <string.h>

/* Sums buffer lengths, saturating: a total this large is refused by the callers anyway. */
static size_t iov_total(const struct iovec *iov, unsigned n)
{
	size_t total = 0;

	for (unsigned i = 0; i < n; i++)
		if (__builtin_add_overflow(total, iov[i].iov_len, &total))
			return SIZE_MAX;
	return total;
}

/* Copies up to len bytes from the cursor without consuming them. */
static size_t in_peek(const struct fuse_req *r, void *dst, size_t len)
{
	unsigned idx = r->in_idx;
	size_t off = r->in_off, done = 0;

	if (len > r->in_left)
		len = r->in_left;
	while (done < len && idx < r->nin) {
		size_t n = r->in[idx].iov_len - off;

		if (n > len - done)
			n = len - done;
		memcpy((char *)dst + done, (const char *)r->in[idx].iov_base + off, n);
		done += n;
		off += n;
		if (off == r->in[idx].iov_len) {
			idx++;
			off = 0;
		}
	}
	return done;
}

/* Moves the cursor len bytes on (len <= in_left). */
static void in_skip(struct fuse_req *r, size_t len)
{
	r->in_left -= len;
	while (len && r->in_idx < r->nin) {
		size_t n = r->in[r->in_idx].iov_len - r->in_off;

		if (n > len) {
			r->in_off += len;
			return;
		}
		len -= n;
		r->in_idx++;
		r->in_off = 0;
	}
	/* Leave the cursor past empty buffers so in_iov starts on real bytes. */
	while (r->in_idx < r->nin && r->in_off == r->in[r->in_idx].iov_len) {
		r->in_idx++;
		r->in_off = 0;
	}
}

int fuse_req_init(struct fuse_req *r, const struct iovec *in, unsigned nin, const struct iovec *out,
		  unsigned nout)
{
	size_t in_total, ext;

	memset(r, 0, sizeof(*r));
	if (nout > FUSE_REQ_MAX_IOV)
		nout = FUSE_REQ_MAX_IOV;
	r->out = out;
	r->nout = nout;
	r->out_cap = iov_total(out, nout);
	if (nin > FUSE_REQ_MAX_IOV)
		return -EINVAL;
	r->in = in;
	r->nin = nin;
	in_total = iov_total(in, nin);
	r->in_left = in_total;
	if (in_total < sizeof(r->hdr))
		return -EINVAL;
	in_peek(r, &r->hdr, sizeof(r->hdr));
	in_skip(r, sizeof(r->hdr));
	/* The length the guest claims must be exactly what it gave us. */
	if (r->hdr.len != in_total)
		return -EINVAL;
	ext = (size_t)r->hdr.total_extlen * 8;
	if (ext > r->in_left)
		return -EINVAL;
	r->in_left -= ext; /* extensions trail the arguments; we negotiate none */
	return 0;
}

int fuse_req_read(struct fuse_req *r, void *dst, size_t len)
{
	if (len > r->in_left)
		return -EINVAL;
	in_peek(r, dst, len);
	in_skip(r, len);
	return 0;
}

int fuse_req_read_str(struct fuse_req *r, char *buf, size_t cap, int toolong)
{
	size_t got = in_peek(r, buf, cap);
	char *nul = memchr(buf, '\0', got);

	if (!nul)
		return got == cap ? toolong : -EINVAL;
	in_skip(r, (size_t)(nul - buf) + 1);
	return 0;
}

int fuse_req_read_name(struct fuse_req *r, char name[NAME_MAX + 1])
{
	int err = fuse_req_read_str(r, name, NAME_MAX + 1, -ENAMETOOLONG);

	if (err)
		return err;
	if (!name[0] || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	return 0;
}

int fuse_req_in_iov(struct fuse_req *r, size_t len, struct iovec *iov, unsigned max)
{
	unsigned idx = r->in_idx, n = 0;
	size_t off = r->in_off, left = len;

	if (len > r->in_left)
		return -EINVAL;
	while (left && idx < r->nin) {
		size_t take = r->in[idx].iov_len - off;

		if (take > left)
			take = left;
		if (take) {
			if (n == max)
				return -EINVAL;
			iov[n].iov_base = (char *)r->in[idx].iov_base + off;
			iov[n].iov_len = take;
			n++;
			left -= take;
		}
		idx++;
		off = 0;
	}
	in_skip(r, len);
	return (int)n;
}

unsigned fuse_req_out_iov(const struct fuse_req *r, size_t off, size_t len, struct iovec *iov,
			  unsigned max, size_t *got)
{
	unsigned n = 0;

	*got = 0;
	for (unsigned i = 0; i < r->nout && len && n < max; i++) {
		size_t blen = r->out[i].iov_len, take;

		if (off >= blen) {
			off -= blen;
			continue;
		}
		take = blen - off;
		if (take > len)
			take = len;
		iov[n].iov_base = (char *)r->out[i].iov_base + off;
		iov[n].iov_len = take;
		n++;
		*got += take;
		len -= take;
		off = 0;
	}
	return n;
}

int fuse_req_write(struct fuse_req *r, size_t off, const void *src, size_t len)
{
	size_t end;

	if (__builtin_add_overflow(off, len, &end) || end > r->out_cap)
		return -ERANGE;
	for (unsigned i = 0; i < r->nout && len; i++) {
		size_t blen = r->out[i].iov_len, take;

		if (off >= blen) {
			off -= blen;
			continue;
		}
		take = blen - off;
		if (take > len)
			take = len;
		memcpy((char *)r->out[i].iov_base + off, src, take);
		src = (const char *)src + take;
		len -= take;
		off = 0;
	}
	return 0;
}

static int reply_header(struct fuse_req *r, int error, size_t len)
{
	struct fuse_out_header oh = {
	    .len = (uint32_t)(sizeof(oh) + len),
	    .error = error,
	    .unique = r->hdr.unique,
	};

	if (sizeof(oh) + len > r->out_cap || sizeof(oh) + len > UINT32_MAX)
		return -ERANGE;
	fuse_req_write(r, 0, &oh, sizeof(oh));
	r->out_len = sizeof(oh) + len;
	return 0;
}

int fuse_reply(struct fuse_req *r, const void *arg, size_t len)
{
	if (sizeof(struct fuse_out_header) + len > r->out_cap)
		return -ERANGE;
	fuse_req_write(r, sizeof(struct fuse_out_header), arg, len);
	return reply_header(r, 0, len);
}

int fuse_reply_written(struct fuse_req *r, size_t len)
{
	return reply_header(r, 0, len);
}

void fuse_reply_err(struct fuse_req *r, int err)
{
	if (reply_header(r, -err, 0))
		r->out_len = 0;
}
