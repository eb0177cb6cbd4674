import Launcher

// The marble launcher: everything it does is in the Launcher library; see `Launcher.run` and `LauncherSettings`.
await Launcher.run()
