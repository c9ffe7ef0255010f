#!/usr/bin/env python3
"""A real QSharedMemory peer (PyQt5, i.e. Qt 5's own classes) that does exactly what Qt's
shared-memory example does, so tests can exchange images with shmimage's Qt-compatible mode.

    qt_peer.py publish KEY IMAGE   loadFromFile: QDataStream << QImage into a new segment; prints
                                   "ready", stays attached until stdin closes or SIGTERM, detaches
    qt_peer.py read KEY OUT        loadFromMemory: attach, lock, QDataStream >> QImage, unlock,
                                   detach; saves the image as PNG and prints "read WxH"
    qt_peer.py hold KEY IMAGE      publish, then take the lock and keep it: prints "holding the
                                   lock", then hangs (a stuck Qt program, for tests)

Errors print "error: <Qt's message> (<errorString>)" and exit 1, as the example's label would.
"""
import ctypes
import os
import signal
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PyQt5.QtCore import QBuffer, QByteArray, QDataStream, QIODevice, QSharedMemory  # noqa: E402
from PyQt5.QtGui import QGuiApplication, QImage  # noqa: E402


def fail(message, shm=None):
    detail = f" ({shm.errorString()})" if shm is not None else ""
    print(f"error: {message}{detail}", flush=True)
    sys.exit(1)


def publish(key, path, hold=False):
    image = QImage()
    if not image.load(path):
        fail("Selected file is not an image, please select another.")
    shm = QSharedMemory(key)
    if shm.isAttached():
        shm.detach()
    buffer = QBuffer()
    buffer.open(QIODevice.ReadWrite)
    out = QDataStream(buffer)
    out << image
    size = buffer.size()
    if not shm.create(size):
        fail("Unable to create shared memory segment.", shm)
    shm.lock()
    data = bytes(buffer.data())
    ctypes.memmove(int(shm.data()), data, min(shm.size(), size))
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
    shm = QSharedMemory(key)
    if not shm.attach():
        fail("Unable to attach to shared memory segment.\nLoad an image first.", shm)
    buffer = QBuffer()
    stream = QDataStream(buffer)
    image = QImage()
    shm.lock()
    buffer.setData(QByteArray(ctypes.string_at(int(shm.constData()), shm.size())))
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
