// swift-tools-version: 6.1
// A deployment's own tests of its rules: an in-process nhacviec on a manual clock over the
// deployment's configuration folder, with the messages read as their recipients read them. Copy
// this package beside your configuration, point `configuration` in the tests at it, and run
// `swift test`. Here it tests the Quảng Ngãi configuration shipped in the repository's Rules/.
import PackageDescription

let package = Package(
  name: "deployment-tests",
  platforms: [.macOS(.v14)],
  dependencies: [
    // In your own copy: .package(url: "https://…/nhacviec", exact: "0.2.0"), or a path to a checkout.
    .package(name: "nhacviec", path: "../..")
  ],
  targets: [
    .testTarget(
      name: "DeploymentTests",
      dependencies: [.product(name: "NhacviecTesting", package: "nhacviec")],
      swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
    )
  ],
  swiftLanguageModes: [.v6]
)
