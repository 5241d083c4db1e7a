// The Android app. Open this folder (android/) in Android Studio.
// brevdue-kit/ beside it is the JVM module tested on the host with Maven (android/test.sh);
// the app compiles the kit's view models and the generated bindings into itself.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
        // The Kotlin half of rustls-platform-verifier (the engine's certificate checks).
        maven {
            url = uri("https://github.com/rustls/rustls-platform-verifier/raw/maven-archive/android-release-support/maven/")
            content { includeGroup("rustls") }
        }
    }
}

rootProject.name = "Brevdue"
include(":app")
