#!/usr/bin/env python3
"""A real Qt 6 QSharedMemory peer (PySide6 from PyPI) that does what Qt 6.6+'s shared-memory
example does: QSharedMemory(QNativeIpcKey(KEY)), i.e. POSIX shared memory and a POSIX
semaphore named after the key. Same commands and output as qt_peer.py:

    qt6_peer.py publish KEY IMAGE   create (or, as the example, attach when it already exists),
                                    lock, QDataStream << QImage, unlock; "ready"; wait for stdin
                                    to close or SIGTERM; detach
    qt6_peer.py read KEY OUT        attach, lock, QDataStream >> QImage, unlock, detach; save PNG
    qt6_peer.py hold KEY IMAGE      publish, then take the lock and hang ("holding the lock")
"""
import os
import signal
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import (  # noqa: E402
    QBuffer, QByteArray, QDataStream, QIODevice, QNativeIpcKey, QSharedMemory,
)
from PySide6.QtGui import QGuiApplication, QImage  # noqa: E402


def fail(message, shm=None):
    detail = f" ({shm.errorString()})" if shm is not None else ""
    print(f"error: {message}{detail}", flush=True)
    sys.exit(1)


def publish(key, path, hold=False):
    image = QImage()
    if not image.load(path):
        fail("Selected file is not an image, please select another.")
    shm = QSharedMemory(QNativeIpcKey(key))
    buffer = QBuffer()
    buffer.open(QIODevice.ReadWrite)
    out = QDataStream(buffer)
    out << image
    size = buffer.size()
    # The Qt 6 example: create, or attach to what a previous writer left.
    if not shm.create(size):
        if shm.error() != QSharedMemory.AlreadyExists or not shm.attach():
            fail("Unable to create or attach to shared memory segment.", shm)
    shm.lock()
    data = bytes(buffer.data())
    count = min(shm.size(), size)
    shm.data()[:count] = data[:count]
    shm.unlock()
    print(f"ready {image.width()}x{image.height()} bytes={size}", flush=True)
    if hold:
        shm.lock()
        print("holding the lock", flush=True)
        while True:
            signal.pause()

    def stop(*_):
        shm.detach()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    sys.stdin.read()
    stop()


def read(key, path):
    shm = QSharedMemory(QNativeIpcKey(key))
    if not shm.attach():
        fail("Unable to attach to shared memory segment.\nLoad an image first.", shm)
    buffer = QBuffer()
    stream = QDataStream(buffer)
    image = QImage()
    shm.lock()
    buffer.setData(QByteArray(bytes(shm.constData()[: shm.size()])))
    buffer.open(QBuffer.ReadOnly)
    stream >> image
    shm.unlock()
    shm.detach()
    if image.isNull():
        fail("the segment held no image Qt could read")
    if not image.save(path, "PNG"):
        fail(f"cannot save {path}")
    print(f"read {image.width()}x{image.height()}", flush=True)


def main():
    app = QGuiApplication(sys.argv[:1])  # noqa: F841 (image plugins need an application)
    if len(sys.argv) != 4 or sys.argv[1] not in ("publish", "read", "hold"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    command, key, path = sys.argv[1:]
    if command == "read":
        read(key, path)
    else:
        publish(key, path, hold=command == "hold")


if __name__ == "__main__":
    main()
