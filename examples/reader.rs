//! The reader of Qt's shared-memory example, one step per line, with Qt's names: attach → lock →
//! copy → unlock → detach, then read the image out of the copy as Qt's `QDataStream` does, and
//! save it. Start `cargo run --example writer` in another terminal first.

use shmimage::codec;
use shmimage::ipc::segment::{AccessMode, SharedMemory};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("setKey(\"QSharedMemoryExample\")");
    let mut shared_memory = SharedMemory::new("QSharedMemoryExample")?;
    println!("attach()");
    shared_memory.attach(AccessMode::ReadOnly)?;
    println!("lock()");
    let memory = shared_memory.lock()?;
    let mut buffer = vec![0; memory.size()];
    println!("memcpy(buffer, constData(), {})", buffer.len());
    memory.read(0, &mut buffer)?;
    println!("unlock()");
    memory.unlock();
    println!("detach()");
    shared_memory.detach();

    let image = codec::qt::decode(&buffer)?; // QDataStream >> image
    let saved = "received.png";
    codec::save_image(&image, saved.as_ref())?;
    println!(
        "got a {}x{} image from the other process; saved it as {saved}",
        image.width(),
        image.height()
    );
    Ok(())
}
