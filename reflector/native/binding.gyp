# The native mirror addon (N-API, C). Built at install time by install.js; optional: when it does not
# build, the reflector runs the TypeScript data plane.
{
  "targets": [
    {
      "target_name": "rmesh_mirror",
      "sources": ["src/addon.c", "src/control.c", "src/js-table.c", "src/js-values.c", "src/sockets.c", "src/loop.c", "src/peer.c", "src/send.c", "src/table.c", "src/mac.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "defines": ["NAPI_VERSION=8"],
      "conditions": [["OS!='linux'", {"type": "none"}]]
    }
  ]
}
