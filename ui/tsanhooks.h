#pragma once
// Happens-before edges for ThreadSanitizer across Qt's cross-thread event queue.
//
// Debian's Qt is not built with TSan, and its QMutex/QWaitCondition wait on futexes TSan cannot
// see, so a queued signal or invokeMethod from one thread to another looks to TSan like two
// unsynchronised threads touching the same data. Qt's queue does order them: everything the
// posting thread did before posting happens before the receiving thread handles the event.
// These hooks tell TSan so:
//   - beforePost(): the posting thread, right before it posts (Q_EMIT of a queued
//     signal, QMetaObject::invokeMethod to another thread);
//   - beforeHandling(): the receiving thread, before it handles any event (the TSan test
//     programs call it from QCoreApplication::notify, which Qt calls for every event in every
//     thread).
// One address stands for every queue, so an event's handling is ordered after every post made
// before it, not only its own: an over-approximation that can hide a race only between data
// written before one post and read while handling an event posted earlier. In builds without
// TSan the hooks are empty inline functions.

#if defined(__SANITIZE_THREAD__)
#define INFOMAX_TSAN_HOOKS 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define INFOMAX_TSAN_HOOKS 1
#endif
#endif

#ifdef INFOMAX_TSAN_HOOKS
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#endif

namespace infomax::ui::tsan {

#ifdef INFOMAX_TSAN_HOOKS
inline char queueToken;
inline void beforePost() { __tsan_release(&queueToken); }
inline void beforeHandling() { __tsan_acquire(&queueToken); }
#else
inline void beforePost() {}
inline void beforeHandling() {}
#endif

}  // namespace infomax::ui::tsan
