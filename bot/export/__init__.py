"""Files a person takes away: BibTeX of their papers, and their watches as a text file."""
