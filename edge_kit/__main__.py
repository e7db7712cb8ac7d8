from edge_kit.cli import main

main()
