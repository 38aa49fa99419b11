"""The embedded reference server: one correct implementation of the Stretch gallery storage API.

The published description leaves points open (see contract.toml); this server makes one choice
for each, and the conformance suite must pass against it with no fault switched on:

- "20 MB" is 20 x 1,048,576 = 20,971,520 bytes, inclusive: a file of exactly that size is
  stored, one byte more is refused with 413.
- The type is judged only from the bytes: Pillow must identify PNG or JPEG, the pixel count
  (from the header) must be at most 40,000,000, and the image must decode completely. The file
  name and the part's Content-Type are never consulted. Not an image, another type, or a damaged
  image: 415. Too many pixels: 413. Empty file: 400.
- Missing or unknown bearer token: 401 `{"detail": ...}` with `WWW-Authenticate: Bearer`,
  decided before any body is read. Another user's image answers 404, exactly as an unknown ID.
- A bad order (an image left out, named twice, or unknown; an empty list for a non-empty
  gallery): 400 and the order is unchanged. Malformed IDs and bodies: 422 in FastAPI's shape.
- New uploads land at the end of the gallery order. A batch with one bad file is refused whole
  with that file's refusal; nothing of it is stored.
- FileBase: `title` is null when never given (stored exactly as sent otherwise, "" included);
  `description` is always null; `status` is "approved"; `thumb` is a PNG (JPEG for JPEG images)
  of at most 256 x 256 pixels. `url` and `thumb` are public: /media/{id} and /media/{id}/thumb.
- Update answers 200 with the updated FileBase; a new file replaces bytes, contentType,
  filesize, originFilename and thumb, keeping the ID and the place in the order.
- Every error body is JSON with `detail`; no input produces a 5xx.

Faults (reference_server/faults.py) switch single rules off so the suite can show it notices.
Choices (reference_server/choices.py) switch single open points to another correct answer, so
the suite can show it accepts every correct server, not only this one.
"""
