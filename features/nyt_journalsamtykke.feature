# language: da
Egenskab: Nyt journalsamtykke før 2-års-målingen
  Et journalsamtykke giver adgang til oplysninger i ét år fra underskriften, men
  betalingsmålingen har brug for oplysninger op til to år efter henvisningen (og højst til
  projektets afslutning). Hver 2-års-måling kræver derfor et nyt samtykke, før det første
  udløber. Samtykkeservicen sætter opgaven på navigatørens arbejdsliste 60, 30 og 14 dage
  før udløbet (indstillinger), og tjekker ved hver påmindelse, om den stadig er nødvendig.

  Baggrund:
    Givet en borger på Hold 2 henvist den 2. november 2026
    Og et journalsamtykke underskrevet og indført i journalen den 10. november 2026

  Scenarie: Opgaven kommer på arbejdslisten 60 dage før samtykket udløber
    Når samtykkeservicen kører sine planlagte opgaver den 9. september 2027
    Så står der intet nyt journalsamtykke på arbejdslisten
    Når samtykkeservicen kører sine planlagte opgaver den 10. september 2027
    Så står et nyt journalsamtykke på arbejdslisten med frist den 9. november 2027

  Scenarie: Et nyt samtykke fjerner opgaven og de resterende påmindelser
    Givet samtykkeservicen har kørt sine planlagte opgaver den 10. september 2027
    Når borgeren underskriver et nyt journalsamtykke den 1. oktober 2027
    Så står der intet nyt journalsamtykke på arbejdslisten
    Og der venter ingen påmindelser om nyt journalsamtykke

  Scenarie: En borger, der har tilbagekaldt journalsamtykket, bliver ikke bedt om et nyt
    Når borgeren tilbagekalder journalsamtykket den 1. marts 2027
    Og samtykkeservicen kører sine planlagte opgaver den 10. september 2027
    Så står der intet nyt journalsamtykke på arbejdslisten
