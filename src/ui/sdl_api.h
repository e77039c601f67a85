/*
 * SDL2, loaded only when a window is asked for (ui/sdl_window.c). The binary does not link
 * it: a run without a window never maps SDL and the libraries it needs (X11, Wayland,
 * PulseAudio, D-Bus, ...), which would be most of smolvm's own memory. SDL's headers still
 * give the types and constants; the functions the window calls are pointers in one table,
 * filled by name from the library when the window opens.
 */
#ifndef SMOLVM_SDL_API_H
#define SMOLVM_SDL_API_H

#include <SDL.h>

/* The SDL2 runtime's soname (Debian's libsdl2-2.0-0). */
#define SDL_API_LIBRARY "libSDL2-2.0.so.0"

/* Every SDL function the window calls, without its SDL_ prefix: a call is sdl.Name(...). */
#define SDL_API_FUNCTIONS(X)                                                                       \
	X(Init)                                                                                    \
	X(GetError)                                                                                \
	X(SetHint)                                                                                 \
	X(SetHintWithPriority)                                                                     \
	X(RegisterEvents)                                                                          \
	X(PushEvent)                                                                               \
	X(PollEvent)                                                                               \
	X(WaitEvent)                                                                               \
	X(WaitEventTimeout)                                                                        \
	X(GetTicks)                                                                                \
	X(CreateWindow)                                                                            \
	X(GetWindowSize)                                                                           \
	X(CreateRenderer)                                                                          \
	X(GetRendererOutputSize)                                                                   \
	X(SetRenderDrawColor)                                                                      \
	X(RenderClear)                                                                             \
	X(RenderCopy)                                                                              \
	X(RenderSetClipRect)                                                                       \
	X(RenderPresent)                                                                           \
	X(CreateTexture)                                                                           \
	X(DestroyTexture)                                                                          \
	X(UpdateTexture)                                                                           \
	X(SetTextureBlendMode)                                                                     \
	X(SetTextureScaleMode)

/* One pointer per function, of the type SDL's header declares for it. */
struct sdl_api {
#define SDL_API_POINTER(name) __typeof__(SDL_##name) *name;
	SDL_API_FUNCTIONS(SDL_API_POINTER)
#undef SDL_API_POINTER
};

/* The table; its pointers are NULL until sdl_api_load succeeded. */
extern struct sdl_api sdl;

/* Loads library (SDL_API_LIBRARY; tests name others) and every function of the table.
 * 0, or -1 with *why set to dlerror's message (the library or the function missing) and the
 * table left empty. Once it succeeded, later calls return 0 at once. Not thread-safe: the
 * window's one thread calls it. */
int sdl_api_load(const char *library, const char **why);

#endif
