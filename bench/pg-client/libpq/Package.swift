// swift-tools-version:6.2
// The journal's claim over Debian's libpq (libpq-dev), for bench/pg-client.sh: not part of
// nhacviec's package.
import PackageDescription

let package = Package(
  name: "pg-client-libpq",
  targets: [
    .systemLibrary(name: "CLibpq", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
    .executableTarget(
      name: "PgClientLibpq",
      dependencies: ["CLibpq"],
      swiftSettings: [.swiftLanguageMode(.v6)]
    ),
  ]
)
