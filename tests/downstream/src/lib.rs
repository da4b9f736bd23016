//! A user of victim-pool: a program-wide pool of scratch buffers, as in
//! README, and code that borrows from it.

use victim_pool::Pool;

/// Scratch buffers for the whole program.
pub static BUFFERS: Pool<Vec<u8>> = Pool::new(Vec::new);

/// Runs `f` on a buffer from `pool` and gives the buffer back afterwards.
///
/// The buffer comes as its last user left it (or empty, if new).
pub fn with_buffer<R>(pool: &Pool<Vec<u8>>, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let mut buffer = pool.get();
    f(&mut buffer)
}

/// Encodes `payload` as one record (a 4-byte big-endian length, then the
/// bytes) in a scratch buffer from [`BUFFERS`], and returns a copy.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    with_buffer(&BUFFERS, |buffer| {
        buffer.clear();
        let length = u32::try_from(payload.len()).expect("payload under 4 GiB");
        buffer.extend_from_slice(&length.to_be_bytes());
        buffer.extend_from_slice(payload);
        buffer.clone()
    })
}
