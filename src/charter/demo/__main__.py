"""`python -m charter.demo`: run the walkthrough."""

from charter.demo.walkthrough import main

main()
