#!/usr/bin/env python3
"""A real QSharedMemory peer that does exactly what Qt's shared-memory example does, so tests can
exchange images with shmimage's Qt-compatible modes. By default it is Qt 5 through PyQt5 (the
System V flavour); with --qt6 it is Qt 6 through PySide6 and QSharedMemory(QNativeIpcKey(KEY)),
the POSIX flavour of Qt 6.6+'s example.

    qt_peer.py [--qt6] publish KEY IMAGE   loadFromFile: QDataStream << QImage into a segment
                                           (Qt 6's example attaches to one that already exists);
                                           prints "ready", stays attached until stdin closes or
                                           SIGTERM, then detaches
    qt_peer.py [--qt6] read KEY OUT        loadFromMemory: attach, lock, QDataStream >> QImage,
                                           unlock, detach; saves the image as PNG, "read WxH"
    qt_peer.py [--qt6] hold KEY IMAGE      publish, then take the lock and keep it: prints
                                           "holding the lock", then hangs (a stuck Qt program)

Errors print "error: <Qt's message> (<errorString>)" and exit 1, as the example's label would.
"""
import ctypes
import os
import signal
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

QT6 = "--qt6" in sys.argv[1:2]
if QT6:
    del sys.argv[1]
    from PySide6.QtCore import (  # noqa: E402
        QBuffer, QByteArray, QDataStream, QIODevice, QNativeIpcKey, QSharedMemory,
    )
    from PySide6.QtGui import QGuiApplication, QImage  # noqa: E402
else:
    from PyQt5.QtCore import (  # noqa: E402
        QBuffer, QByteArray, QDataStream, QIODevice, QSharedMemory,
    )
    from PyQt5.QtGui import QGuiApplication, QImage  # noqa: E402


def shared_memory(key):
    return QSharedMemory(QNativeIpcKey(key)) if QT6 else QSharedMemory(key)


def write_into(shm, data):
    """The example's memcpy into shm.data(), min(segment size, data size) bytes."""
    count = min(shm.size(), len(data))
    if QT6:
        shm.data()[:count] = data[:count]  # PySide6: a writable memoryview
    else:
        ctypes.memmove(int(shm.data()), data, count)  # PyQt5: a sip.voidptr


def read_out(shm):
    if QT6:
        return bytes(shm.constData()[: shm.size()])
    return ctypes.string_at(int(shm.constData()), shm.size())


def fail(message, shm=None):
    detail = f" ({shm.errorString()})" if shm is not None else ""
    print(f"error: {message}{detail}", flush=True)
    sys.exit(1)


def publish(key, path, hold=False):
    image = QImage()
    if not image.load(path):
        fail("Selected file is not an image, please select another.")
    shm = shared_memory(key)
    if shm.isAttached():
        shm.detach()
    buffer = QBuffer()
    buffer.open(QIODevice.ReadWrite)
    out = QDataStream(buffer)
    out << image
    size = buffer.size()
    if not shm.create(size):
        # Qt 6's example attaches to what a previous writer left; Qt 5's gives up.
        reuse = QT6 and shm.error() == QSharedMemory.AlreadyExists and shm.attach()
        if not reuse:
            fail("Unable to create shared memory segment.", shm)
    shm.lock()
    write_into(shm, bytes(buffer.data()))
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
    shm = shared_memory(key)
    if not shm.attach():
        fail("Unable to attach to shared memory segment.\nLoad an image first.", shm)
    buffer = QBuffer()
    stream = QDataStream(buffer)
    image = QImage()
    shm.lock()
    buffer.setData(QByteArray(read_out(shm)))
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
