// The console (written next).
