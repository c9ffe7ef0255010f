//! The writer of Qt's shared-memory example, one step per line, with Qt's names: load an image,
//! write it into a buffer as Qt's `QDataStream` does, then create → lock → copy → unlock, and
//! keep it shared until Enter. Run `cargo run --example reader` in a second terminal meanwhile.

use shmimage::codec;
use shmimage::ipc::segment::SharedMemory;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let file = std::env::args().nth(1);
    let file = file.as_deref().unwrap_or("assets/sample.png");
    let image = codec::decode_file(file.as_ref())?.image;
    println!("loaded {file}: {}x{}", image.width(), image.height());
    let buffer = codec::qt::encode(&image)?; // QBuffer + QDataStream << image

    println!("setKey(\"QSharedMemoryExample\")");
    let mut shared_memory = SharedMemory::new("QSharedMemoryExample")?;
    println!("create({})", buffer.len());
    shared_memory.create(buffer.len())?;
    println!("lock()");
    let mut memory = shared_memory.lock()?;
    println!("memcpy(data(), buffer, {})", buffer.len());
    memory.write(0, &buffer)?;
    println!("unlock()");
    memory.unlock();

    println!("shared: press Enter to detach (the segment goes with the last process attached)");
    std::io::stdin().read_line(&mut String::new())?;
    println!("detach()");
    shared_memory.detach();
    Ok(())
}
