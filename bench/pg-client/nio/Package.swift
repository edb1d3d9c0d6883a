// swift-tools-version:6.2
// The journal's claim over postgres-nio, for bench/pg-client.sh: not part of nhacviec's package.
import PackageDescription

let package = Package(
  name: "pg-client-nio",
  dependencies: [
    .package(url: "https://github.com/vapor/postgres-nio", exact: "1.33.2")
  ],
  targets: [
    .executableTarget(
      name: "PgClientNIO",
      dependencies: [.product(name: "PostgresNIO", package: "postgres-nio")],
      swiftSettings: [.swiftLanguageMode(.v6)]
    )
  ]
)
