// swift-tools-version: 6.1
import PackageDescription

let strictSettings: [SwiftSetting] = [
  .enableUpcomingFeature("ExistentialAny"),
  .enableUpcomingFeature("InternalImportsByDefault"),
  .enableUpcomingFeature("MemberImportVisibility"),
]

/// What a fuzz target's folder holds besides its source: seed inputs, kept crashes, a dictionary.
let fuzzData = ["corpus", "crashes", "fuzz.dict"]

let package = Package(
  name: "nhacviec",
  platforms: [.macOS(.v14)],
  products: [
    .executable(name: "nhacviec", targets: ["nhacviec"]),
    .library(name: "NhacviecCore", targets: ["NhacviecCore"]),
    .library(name: "NhacviecConfig", targets: ["NhacviecConfig"]),
    // For a deployment's own tests of its rules (examples/deployment-tests): an in-process daemon
    // on a manual clock, configuration fixtures, a scripted channel, what every channel must do.
    .library(name: "NhacviecTesting", targets: ["NhacviecTesting"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
    .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
    .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
  ],
  targets: [
    // The domain: directory, calendar, rules, evaluate and plan. Foundation only.
    .target(name: "NhacviecCore", swiftSettings: strictSettings),
    // What officials read: the message templates and their Vietnamese defaults, the webhook body,
    // the report as HTML, CSV, Markdown and JSON.
    .target(name: "NhacviecRender", dependencies: ["NhacviecCore"], swiftSettings: strictSettings),
    // Programs nhacviec runs: external rule kinds (`kind: exec`) and the process runner they
    // share with the exec channel.
    .target(name: "NhacviecExternal", dependencies: ["NhacviecCore"], swiftSettings: strictSettings),
    // Reads configuration, directory, calendar overrides, rules and facts from files.
    .target(
      name: "NhacviecConfig",
      dependencies: ["NhacviecCore", "NhacviecExternal", .product(name: "Yams", package: "Yams")],
      swiftSettings: strictSettings
    ),
    // libcurl from the system (libcurl4-openssl-dev), and typed wrappers for its variadic calls.
    .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
    .target(name: "CCurlShim", dependencies: ["CCurl"]),
    // libsodium from the system (libsodium-dev): HMAC-SHA256 for units' links, argon2id for
    // officers' passwords, random bytes for sessions. Never hand-written.
    .systemLibrary(name: "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
    // The signed links by which a unit answers its reminder: tokens bound to (rule, unit, period),
    // signed and checked with rotating keys.
    .target(name: "NhacviecLinks", dependencies: ["NhacviecCore", "CSodium"], swiftSettings: strictSettings),
    // libpq from the system (libpq-dev): the PostgreSQL client, called on the store's own
    // threads as SQLite is (docs/architecture.md says why not postgres-nio).
    .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
    // The journal and facts, in SQLite (embedded, the default) or PostgreSQL (shared by several daemons).
    .target(
      name: "NhacviecStore",
      dependencies: [
        "NhacviecCore", "CLibPQ", .product(name: "GRDB", package: "GRDB.swift"),
        // SQLite's own API, for the write-ahead log's hook (Checkpointer).
        .product(name: "GRDBSQLite", package: "GRDB.swift"),
      ],
      swiftSettings: strictSettings
    ),
    // Channels (SMTP and webhooks over libcurl, file, exec), retries and the delivery pipeline.
    .target(
      name: "NhacviecDelivery",
      dependencies: [
        "NhacviecCore", "NhacviecConfig", "NhacviecRender", "NhacviecStore", "NhacviecExternal", "NhacviecLinks",
        "CCurl", "CCurlShim",
      ],
      swiftSettings: strictSettings
    ),
    // The version, and the commit and build date scripts/package sets (`-Xcc -D…`), as C macros
    // with defaults so that a checkout builds with no flags.
    .target(name: "CBuildInfo"),
    // The control API's request and response types. No networking.
    .target(name: "NhacviecControl", dependencies: ["NhacviecCore"], swiftSettings: strictSettings),
    // The desk: web pages for the Department's officers (accounts, sessions, forms), and the
    // page a unit's signed link opens. Served by the daemon's own HTTP server on TCP.
    .target(
      name: "NhacviecWeb",
      dependencies: [
        "NhacviecCore", "NhacviecConfig", "NhacviecRender", "NhacviecStore", "NhacviecControl", "NhacviecLinks",
        "CSodium",
      ],
      swiftSettings: strictSettings
    ),
    // `nhacviec run`: the loop, the control socket, signals and systemd's notify protocol.
    .target(
      name: "NhacviecDaemon",
      dependencies: [
        "NhacviecCore", "NhacviecConfig", "NhacviecRender", "NhacviecStore", "NhacviecDelivery", "NhacviecControl",
        "NhacviecLinks", "NhacviecWeb", "CBuildInfo",
      ],
      swiftSettings: strictSettings
    ),
    .executableTarget(
      name: "nhacviec",
      dependencies: [
        "NhacviecCore", "NhacviecConfig", "NhacviecRender", "NhacviecStore", "NhacviecDelivery", "NhacviecControl",
        "NhacviecDaemon", "NhacviecLinks", .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      swiftSettings: strictSettings
    ),
    .executableTarget(
      name: "nhacviec-bench-plan",
      dependencies: ["NhacviecCore", "NhacviecConfig", "NhacviecStore"],
      path: "bench/PlanBenchmark",
      swiftSettings: strictSettings
    ),
    .executableTarget(
      name: "nhacviec-bench-delivery",
      dependencies: ["NhacviecCore", "NhacviecConfig", "NhacviecRender", "NhacviecStore", "NhacviecDelivery"],
      path: "bench/DeliveryBenchmark",
      swiftSettings: strictSettings
    ),
    // Fuzz targets (docs/reliability.md): scripts/fuzz builds each with libFuzzer and
    // AddressSanitizer; in an ordinary build each is a program that replays the inputs it is given.
    .target(
      name: "FuzzSupport",
      dependencies: ["NhacviecCore", "NhacviecConfig", "NhacviecRender", "NhacviecDelivery"],
      path: "Fuzz/Support",
      swiftSettings: strictSettings
    ),
    .executableTarget(
      name: "fuzz-config",
      dependencies: ["FuzzSupport", "NhacviecCore", "NhacviecConfig"],
      path: "Fuzz/config",
      exclude: fuzzData,
      swiftSettings: strictSettings
    ),
    .executableTarget(
      name: "fuzz-deployment",
      dependencies: ["FuzzSupport", "NhacviecCore", "NhacviecConfig"],
      path: "Fuzz/deployment",
      exclude: fuzzData,
      swiftSettings: strictSettings
    ),
    .executableTarget(
      name: "fuzz-facts",
      dependencies: ["FuzzSupport", "NhacviecCore", "NhacviecConfig"],
      path: "Fuzz/facts",
      exclude: fuzzData,
      swiftSettings: strictSettings
    ),
    .executableTarget(
      name: "fuzz-control",
      dependencies: ["FuzzSupport", "NhacviecCore", "NhacviecConfig", "NhacviecControl", "NhacviecDaemon"],
      path: "Fuzz/control",
      exclude: fuzzData,
      swiftSettings: strictSettings
    ),
    .executableTarget(
      name: "fuzz-links",
      dependencies: ["FuzzSupport", "NhacviecCore", "NhacviecLinks"],
      path: "Fuzz/links",
      exclude: fuzzData,
      swiftSettings: strictSettings
    ),
    .executableTarget(
      name: "fuzz-desk",
      dependencies: ["FuzzSupport", "NhacviecWeb"],
      path: "Fuzz/desk",
      exclude: fuzzData,
      swiftSettings: strictSettings
    ),
    // For tests, ours and a deployment's own: a manual clock, a scripted channel, fixtures, a
    // delivery harness and what every channel must do.
    .target(
      name: "NhacviecTesting",
      dependencies: [
        "NhacviecCore", "NhacviecConfig", "NhacviecRender", "NhacviecStore", "NhacviecDelivery", "NhacviecControl",
        "NhacviecDaemon",
      ],
      swiftSettings: strictSettings
    ),
    .testTarget(
      name: "NhacviecCoreTests", dependencies: ["NhacviecCore", "NhacviecRender", "TestSupport"],
      swiftSettings: strictSettings),
    .testTarget(
      name: "NhacviecControlTests", dependencies: ["NhacviecControl", "TestSupport"], swiftSettings: strictSettings),
    .testTarget(
      name: "NhacviecConfigTests",
      dependencies: ["NhacviecCore", "NhacviecConfig", "NhacviecRender", "TestSupport"],
      swiftSettings: strictSettings
    ),
    // Real servers (Tests/Servers) and helpers shared by the test targets.
    .target(name: "TestSupport", path: "Tests/Support", swiftSettings: strictSettings),
    .testTarget(
      name: "NhacviecDeliveryTests",
      dependencies: [
        "NhacviecCore", "NhacviecConfig", "NhacviecRender", "NhacviecStore", "NhacviecDelivery", "NhacviecLinks",
        "NhacviecTesting", "TestSupport",
      ],
      swiftSettings: strictSettings
    ),
    .testTarget(
      name: "NhacviecDaemonTests",
      dependencies: [
        "NhacviecCore", "NhacviecConfig", "NhacviecStore", "NhacviecDelivery", "NhacviecControl", "NhacviecDaemon",
        "NhacviecExternal", "NhacviecLinks", "NhacviecTesting", "TestSupport",
      ],
      swiftSettings: strictSettings
    ),
    .testTarget(
      name: "CommandLineTests",
      dependencies: ["nhacviec", "NhacviecDaemon", "NhacviecControl", "NhacviecWeb", "TestSupport"],
      exclude: ["Fixtures"],
      swiftSettings: strictSettings
    ),
    // Every kept input of every fuzz target, replayed: the regression tests for what fuzzing found.
    .testTarget(
      name: "FuzzReplayTests",
      dependencies: [
        "fuzz-config", "fuzz-deployment", "fuzz-facts", "fuzz-control", "fuzz-links", "fuzz-desk", "TestSupport",
      ],
      swiftSettings: strictSettings
    ),
  ],
  swiftLanguageModes: [.v6]
)
