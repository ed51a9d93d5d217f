{
  "targets": [
    {
      "target_name": "inrscape_native",
      "sources": [
        "native/addon.cc", "native/dicty.cc", "native/thread_pool.cc",
        "native/addon_siren.cc", "native/engine/isa.cc", "native/engine/caches.cc",
        "native/engine/microkernels.cc", "native/engine/microkernels_x86.cc", "native/engine/microkernels_neon.cc",
        "native/engine/gemm.cc", "native/engine/siren.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_CPP_EXCEPTIONS"],
      "conditions": [
        ["OS=='mac'", {
          "xcode_settings": {
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "MACOSX_DEPLOYMENT_TARGET": "11.0",
            "OTHER_CPLUSPLUSFLAGS": ["-O3", "-ffp-contract=off"]
          }
        }, {
          "cflags!": ["-fno-exceptions"],
          "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
          "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-ffp-contract=off", "-pthread"],
          "ldflags": ["-pthread"]
        }]
      ]
    }
  ]
}
