print("swiftland")
