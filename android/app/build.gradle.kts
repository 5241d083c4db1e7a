plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
    id("org.jetbrains.kotlin.plugin.compose")
}

// The Rust workspace (the repository root) and where the native build lands.
val workspace: File = rootDir.parentFile
val rustProfile: String = (findProperty("brevdue.rustProfile") as String?) ?: "release"
val rustAbis = mapOf("arm64-v8a" to "aarch64-linux-android", "x86_64" to "x86_64-linux-android")
val jniOut = layout.buildDirectory.dir("rustJniLibs")
val bindingsOut = layout.buildDirectory.dir("generated/uniffi")
val cargo: String = if (System.getProperty("os.name").startsWith("Windows")) "cargo.exe" else "cargo"

/**
 * The version of rustls-platform-verifier's Kotlin half must be the one the Rust crate was
 * built with: the version of `rustls-platform-verifier-android` in the workspace's Cargo.lock.
 */
val rustlsPlatformVerifierVersion: String = File(workspace, "Cargo.lock").readLines().let { lines ->
    val at = lines.indexOfFirst { it.trim() == "name = \"rustls-platform-verifier-android\"" }
    lines.drop(at + 1).firstOrNull { it.trimStart().startsWith("version = ") }
        ?.substringAfter('"')?.substringBefore('"')
        ?.takeIf { at >= 0 && it.isNotEmpty() }
        ?: error("rustls-platform-verifier-android is not in Cargo.lock")
}

android {
    namespace = "app.brevdue.android"
    compileSdk = 35
    ndkVersion = "27.2.12479018"

    defaultConfig {
        applicationId = "app.brevdue"
        minSdk = 26
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
        ndk { abiFilters += rustAbis.keys }
    }

    buildTypes {
        release {
            isMinifyEnabled = false
            // Kept if minification is turned on: the verifier is called only through JNI.
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"), "proguard-rules.pro")
            signingConfig = signingConfigs.getByName("debug") // replace with your own key
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    buildFeatures { compose = true }

    sourceSets["main"].apply {
        // The view models are brevdue-kit's (tested on the JVM); the bindings are generated.
        java.srcDirs("../brevdue-kit/src/main/kotlin", bindingsOut)
        jniLibs.srcDirs(jniOut)
    }
}

kotlin { jvmToolchain(17) }

/** Cross-compiles brevdue-core for each ABI with cargo-ndk into build/rustJniLibs/<abi>/. */
val cargoNdkBuild by tasks.registering(Exec::class) {
    group = "rust"
    description = "cargo ndk build of libbrevdue_core.so for ${rustAbis.keys}"
    workingDir = workspace
    val args = mutableListOf(cargo, "ndk")
    rustAbis.keys.forEach { args += listOf("-t", it) }
    args += listOf("-o", jniOut.get().asFile.path, "build", "-p", "brevdue-core")
    if (rustProfile == "release") args += "--release"
    commandLine(args)
    // cargo-ndk finds the NDK through ANDROID_NDK_HOME: the one this build uses.
    doFirst { environment("ANDROID_NDK_HOME", androidComponents.sdkComponents.ndkDirectory.get().asFile.path) }
    inputs.dir(File(workspace, "core/src"))
    inputs.file(File(workspace, "core/Cargo.toml"))
    inputs.file(File(workspace, "Cargo.lock"))
    outputs.dir(jniOut)
}

/**
 * Generates the Kotlin bindings from the built (unstripped) arm64 library with the
 * workspace's uniffi-bindgen. Library mode reads the metadata the library carries, so the
 * bindings always match the code that ships.
 */
val generateUniffiBindings by tasks.registering(Exec::class) {
    group = "rust"
    description = "uniffi-bindgen generate --language kotlin into build/generated/uniffi"
    dependsOn(cargoNdkBuild)
    workingDir = workspace // library mode runs `cargo metadata`
    val library = File(workspace, "target/aarch64-linux-android/$rustProfile/libbrevdue_core.so")
    commandLine(
        cargo, "run", "-q", "-p", "uniffi-bindgen", "--",
        "generate", library.path,
        "--language", "kotlin",
        "--no-format",
        "--out-dir", bindingsOut.get().asFile.path,
    )
    inputs.file(library)
    outputs.dir(bindingsOut)
}

tasks.named("preBuild") { dependsOn(generateUniffiBindings) }

dependencies {
    val composeBom = platform("androidx.compose:compose-bom:2024.12.01")
    implementation(composeBom)
    implementation("androidx.compose.ui:ui")
    implementation("androidx.compose.material3:material3")
    implementation("androidx.compose.material:material-icons-core")
    implementation("androidx.compose.ui:ui-tooling-preview")
    debugImplementation("androidx.compose.ui:ui-tooling")
    implementation("androidx.activity:activity-compose:1.9.3")
    implementation("androidx.core:core-ktx:1.15.0")
    implementation("androidx.lifecycle:lifecycle-viewmodel-compose:2.8.7")
    implementation("androidx.lifecycle:lifecycle-runtime-compose:2.8.7")
    implementation("androidx.work:work-runtime-ktx:2.10.0")
    // OAuth2 sign-in pages open in a Custom Tab (the user's browser).
    implementation("androidx.browser:browser:1.8.0")
    implementation("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.10.2")
    // The bindings call the library through JNA; Android needs the AAR (it carries libjnidispatch).
    implementation("net.java.dev.jna:jna:5.17.0@aar")
    // Certificate checks by Android's trust manager, for the engine (PlatformTls).
    implementation("rustls:rustls-platform-verifier:$rustlsPlatformVerifierVersion")
}
