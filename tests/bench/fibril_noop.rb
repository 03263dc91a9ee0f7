# fibril_noop.rb — the trivial fibril of the POST /fibrils rows of `make
# bench` (registered once with POST /code, spawned by fingerprint, fn "f").
def f; end
